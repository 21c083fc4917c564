//! The `cat_encoding` parameter: a search-space parameter the trainer applies (by choosing the
//! preprocessing) rather than the model families, like `class_weight` (`crate::weights`).
//! `onehot`, or the parameter absent (the portfolio, every configuration stored before it
//! existed), is the family's own [`PrepKind`]; `target` is its target-encoded variant
//! ([`PrepKind::with_target_encoding`]: high-cardinality categoricals K-fold target encoded
//! inside each fit, see `automl_data::target_encode`).

use automl_core::{ParamValue, Params, PrepKind};
use std::borrow::Cow;

/// Name of the parameter.
pub const CAT_ENCODING: &str = "cat_encoding";

/// `params` without `cat_encoding` (what the family sees) and the preprocessing kind it asks
/// for, given the family's own `kind`. An unknown value, or `target` for a family whose kind
/// has no target-encoded variant (the tree engine's), is an error message.
pub fn split_cat_encoding(
    params: &Params,
    kind: PrepKind,
) -> Result<(Cow<'_, Params>, PrepKind), String> {
    let Some(v) = params.get(CAT_ENCODING) else {
        return Ok((Cow::Borrowed(params), kind));
    };
    let mut rest = params.clone();
    rest.remove(CAT_ENCODING);
    let kind = match v {
        ParamValue::Str(s) if s == "onehot" => kind,
        ParamValue::Str(s) if s == "target" => kind.with_target_encoding().ok_or_else(|| {
            format!("cat_encoding `target` does not apply to a family with {kind:?} input")
        })?,
        other => {
            return Err(format!(
                "cat_encoding must be `onehot` or `target`, got {other:?}"
            ));
        }
    };
    Ok((Cow::Owned(rest), kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripped_and_mapped_to_a_kind() {
        let mut p = Params::new();
        p.insert("alpha".into(), ParamValue::Float(1.0));
        let (rest, kind) = split_cat_encoding(&p, PrepKind::Scaled).unwrap();
        assert!(matches!(rest, Cow::Borrowed(_)) && kind == PrepKind::Scaled);
        p.insert(CAT_ENCODING.into(), ParamValue::Str("onehot".into()));
        let (rest, kind) = split_cat_encoding(&p, PrepKind::Dense).unwrap();
        assert!(!rest.contains_key(CAT_ENCODING) && rest.contains_key("alpha"));
        assert_eq!(kind, PrepKind::Dense);
        p.insert(CAT_ENCODING.into(), ParamValue::Str("target".into()));
        assert_eq!(
            split_cat_encoding(&p, PrepKind::Scaled).unwrap().1,
            PrepKind::ScaledTarget
        );
        assert_eq!(
            split_cat_encoding(&p, PrepKind::Dense).unwrap().1,
            PrepKind::DenseTarget
        );
        assert!(split_cat_encoding(&p, PrepKind::Tree).is_err());
        p.insert(CAT_ENCODING.into(), ParamValue::Str("hash".into()));
        assert!(split_cat_encoding(&p, PrepKind::Scaled).is_err());
    }
}
