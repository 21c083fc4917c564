//! A limited-memory BFGS minimiser (Nocedal & Wright, algorithm 7.4/7.5) for smooth convex
//! objectives, with a backtracking (Armijo) line search. The objective computes its value and
//! gradient in one call, so a model whose loss and gradient share a pass over the data (the
//! `logistic` family) pays for one pass per evaluation.
//!
//! Stopping follows argmin's L-BFGS (which linfa-logistic ran before): at most `max_iterations`
//! iterations; converged when the gradient's L2 norm is below `tol_grad` or when an iteration
//! lowers the objective by less than 64 machine epsilons relative to its size (scipy's `ftol`
//! as scikit-learn sets it); stopped when no step along the search direction lowers it.

use std::collections::VecDeque;
use std::time::Instant;

/// Number of correction pairs kept (argmin's and linfa-logistic's `m`).
const MEMORY: usize = 10;
/// Sufficient-decrease constant of the Armijo condition.
const ARMIJO: f64 = 1e-4;
/// Step halvings (at most) before a line search gives up.
const MAX_BACKTRACKS: usize = 40;

/// Why [`minimize`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The gradient norm fell below the tolerance, or the objective stopped decreasing.
    Converged,
    /// `max_iterations` iterations ran.
    MaxIterations,
    /// No step along the search direction lowered the objective (at the limit of precision).
    NoProgress,
}

/// The minimiser ran past its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PastDeadline;

/// When [`minimize`] stops: after `max_iterations` iterations, when the gradient's norm is
/// below `tol_grad`, or (an error) past the deadline.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_iterations: usize,
    pub tol_grad: f64,
    pub deadline: Option<Instant>,
}

/// The result of [`minimize`].
#[derive(Debug, Clone)]
pub(crate) struct Minimum {
    pub x: Vec<f64>,
    #[cfg_attr(not(test), allow(dead_code))]
    pub iterations: usize,
    #[cfg_attr(not(test), allow(dead_code))]
    pub stop: Stop,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(u, v)| u * v).sum()
}

/// Minimise `f` from `x0`. `f(x, grad)` returns the objective at `x` and writes its gradient
/// into `grad`; a non-finite value is treated as a failed step. The deadline is checked every
/// 8 iterations.
pub(crate) fn minimize(
    mut f: impl FnMut(&[f64], &mut [f64]) -> f64,
    x0: Vec<f64>,
    limits: Limits,
) -> Result<Minimum, PastDeadline> {
    let Limits {
        max_iterations,
        tol_grad,
        deadline,
    } = limits;
    let n = x0.len();
    let mut x = x0;
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    let mut x_new = vec![0.0; n];
    let mut g_new = vec![0.0; n];
    let mut d = vec![0.0; n];
    // correction pairs, oldest first: s = x_{k+1} - x_k, y = g_{k+1} - g_k, rho = 1 / y's
    let mut s_hist: VecDeque<Vec<f64>> = VecDeque::with_capacity(MEMORY);
    let mut y_hist: VecDeque<Vec<f64>> = VecDeque::with_capacity(MEMORY);
    let mut rho_hist: VecDeque<f64> = VecDeque::with_capacity(MEMORY);
    let mut alpha = [0.0; MEMORY];
    let done = |iterations, stop, x: Vec<f64>| {
        Ok(Minimum {
            x,
            iterations,
            stop,
        })
    };
    if !fx.is_finite() {
        return done(0, Stop::NoProgress, x);
    }
    for iter in 0..max_iterations {
        if dot(&g, &g).sqrt() < tol_grad {
            return done(iter, Stop::Converged, x);
        }
        if iter % 8 == 7 && deadline.is_some_and(|t| Instant::now() >= t) {
            return Err(PastDeadline);
        }
        // two-loop recursion: d = -H g
        d.copy_from_slice(&g);
        for k in (0..s_hist.len()).rev() {
            let a = rho_hist[k] * dot(&s_hist[k], &d);
            alpha[k] = a;
            for (di, yi) in d.iter_mut().zip(&y_hist[k]) {
                *di -= a * yi;
            }
        }
        let gamma = match (s_hist.back(), y_hist.back()) {
            (Some(s), Some(y)) => dot(s, y) / dot(y, y),
            _ => 1.0,
        };
        for di in d.iter_mut() {
            *di *= gamma;
        }
        for k in 0..s_hist.len() {
            let b = rho_hist[k] * dot(&y_hist[k], &d);
            for (di, si) in d.iter_mut().zip(&s_hist[k]) {
                *di += (alpha[k] - b) * si;
            }
        }
        for di in d.iter_mut() {
            *di = -*di;
        }
        let mut slope = dot(&g, &d);
        if slope.is_nan() || slope >= 0.0 {
            // not a descent direction (rounding): restart from steepest descent
            s_hist.clear();
            y_hist.clear();
            rho_hist.clear();
            for (di, gi) in d.iter_mut().zip(&g) {
                *di = -gi;
            }
            slope = -dot(&g, &g);
        }
        // the first step has no curvature estimate: a unit-length move, as scipy's L-BFGS-B
        let mut step = if s_hist.is_empty() {
            (1.0 / (-slope).sqrt()).min(1.0)
        } else {
            1.0
        };
        let mut accepted = None;
        for _ in 0..MAX_BACKTRACKS {
            for ((xn, xi), di) in x_new.iter_mut().zip(&x).zip(&d) {
                *xn = xi + step * di;
            }
            let f_new = f(&x_new, &mut g_new);
            if f_new.is_finite() && f_new <= fx + ARMIJO * step * slope {
                accepted = Some(f_new);
                break;
            }
            // minimiser of the quadratic through f(0), f'(0) and f(step), kept in
            // [0.1, 0.5] x step (a non-finite value halves the step)
            let next = if f_new.is_finite() {
                let q = -slope * step * step / (2.0 * (f_new - fx - slope * step));
                q.clamp(0.1 * step, 0.5 * step)
            } else {
                0.5 * step
            };
            step = next;
        }
        let Some(f_new) = accepted else {
            return done(iter, Stop::NoProgress, x);
        };
        // the oldest pair's buffers are reused once the memory is full
        let (mut s, mut y) = if s_hist.len() == MEMORY {
            rho_hist.pop_front();
            (s_hist.pop_front().unwrap(), y_hist.pop_front().unwrap())
        } else {
            (vec![0.0; n], vec![0.0; n])
        };
        for i in 0..n {
            s[i] = x_new[i] - x[i];
            y[i] = g_new[i] - g[i];
        }
        let sy = dot(&s, &y);
        // a pair without positive curvature would break the update (not on a strictly
        // convex objective, but possible by rounding): skipped
        if sy > 1e-12 * dot(&y, &y).max(f64::MIN_POSITIVE) {
            rho_hist.push_back(1.0 / sy);
            s_hist.push_back(s);
            y_hist.push_back(y);
        }
        std::mem::swap(&mut x, &mut x_new);
        std::mem::swap(&mut g, &mut g_new);
        let decrease = fx - f_new;
        fx = f_new;
        if decrease <= 64.0 * f64::EPSILON * fx.abs().max(1.0) {
            return done(iter + 1, Stop::Converged, x);
        }
    }
    done(max_iterations, Stop::MaxIterations, x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_iterations: usize, tol_grad: f64, deadline: Option<Instant>) -> Limits {
        Limits {
            max_iterations,
            tol_grad,
            deadline,
        }
    }

    /// An ill-conditioned quadratic 1/2 sum c_i (x_i - i)^2 with c from 1 to 1e4 (its minimum
    /// value is 0, so the relative-decrease stop ends it when the decrease is ~1e-14).
    fn quadratic(x: &[f64], g: &mut [f64]) -> f64 {
        let mut v = 0.0;
        for (i, (xi, gi)) in x.iter().zip(g.iter_mut()).enumerate() {
            let c = 10f64.powf(4.0 * i as f64 / (x.len() - 1) as f64);
            let r = xi - i as f64;
            v += 0.5 * c * r * r;
            *gi = c * r;
        }
        v
    }

    #[test]
    fn minimizes_an_ill_conditioned_quadratic() {
        let m = minimize(quadratic, vec![0.0; 20], limits(1000, 1e-10, None)).unwrap();
        assert_eq!(m.stop, Stop::Converged, "{m:?}");
        for (i, xi) in m.x.iter().enumerate() {
            assert!((xi - i as f64).abs() < 1e-6, "x[{i}] = {xi}");
        }
    }

    /// Rosenbrock's function is not convex; its minimum at (1, 1) is found anyway.
    #[test]
    fn minimizes_rosenbrock() {
        let rosen = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        };
        let m = minimize(rosen, vec![-1.2, 1.0], limits(1000, 1e-9, None)).unwrap();
        assert!(
            (m.x[0] - 1.0).abs() < 1e-6 && (m.x[1] - 1.0).abs() < 1e-6,
            "{m:?}"
        );
    }

    #[test]
    fn stops_at_max_iterations_and_at_a_past_deadline() {
        let m = minimize(quadratic, vec![0.0; 20], limits(3, 0.0, None)).unwrap();
        assert_eq!((m.iterations, m.stop), (3, Stop::MaxIterations));
        let past = Instant::now() - std::time::Duration::from_secs(1);
        let got = minimize(quadratic, vec![0.0; 20], limits(1_000_000, 0.0, Some(past)));
        assert_eq!(got.err(), Some(PastDeadline));
    }
}
