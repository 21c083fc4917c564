//! The routes: `/predict`, the Open Inference Protocol v2, `/metrics` and the admin endpoints.
//! Every response passes [`guard`], which applies the request timeout (504) and counts the
//! status; every error is a JSON body `{"error": message, "status": code}`.

use crate::state::{Answer, ApiError, Input, State};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State as St};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use std::sync::Arc;

type Shared = Arc<State>;

/// Rows of JSON records.
type Records = Vec<Map<String, Value>>;

/// Rows above which scoring moves to the blocking pool (keeping the async threads free).
const INLINE_ROWS: usize = 512;

/// The service's routes.
pub(crate) fn router(state: Shared) -> Router {
    Router::new()
        .route("/predict", post(predict))
        .route("/v2", get(server_metadata))
        .route("/v2/health/live", get(live))
        .route("/v2/health/ready", get(ready))
        .route("/v2/models/{name}", get(model_metadata))
        .route("/v2/models/{name}/ready", get(model_ready))
        .route("/v2/models/{name}/infer", post(infer))
        .route("/metrics", get(metrics))
        .route("/drift", get(drift))
        .route("/admin/status", get(admin_status))
        .route("/admin/canary/promote", post(admin_promote))
        .route("/admin/canary/rollback", post(admin_rollback))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.max_body))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// The request timeout and the response counter around every route.
async fn guard(St(st): St<Shared>, req: Request, next: Next) -> Response {
    let resp = match tokio::time::timeout(st.timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => error(
            504,
            format!("the request took longer than {:?} (--timeout)", st.timeout),
        ),
    };
    st.metrics.response(resp.status().as_u16());
    resp
}

fn json_response(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

fn error(status: u16, message: impl Into<String>) -> Response {
    let message = message.into();
    json_response(status, json!({"error": message, "status": status}))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error(self.status, self.message)
    }
}

/// A body the extractor refused: too large is 413, anything else 400.
fn body_or_error(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|r| {
        let status = r.status().as_u16();
        if status == 413 {
            ApiError::new(
                413,
                "the request body is larger than the limit (--max-body); send smaller batches",
            )
        } else {
            ApiError::new(status, r.body_text())
        }
    })
}

fn malformed_json(e: serde_json::Error) -> ApiError {
    ApiError::new(400, format!("the body is not valid JSON: {e}"))
}

/// A JSON body: an array of records (objects), or one record.
fn parse_records(body: &[u8]) -> Result<Records, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(malformed_json)?;
    let shape = || {
        ApiError::new(
            400,
            "expected a JSON array of records, e.g. [{\"column\": value, ...}], or CSV with Content-Type: text/csv",
        )
    };
    match v {
        Value::Array(items) => items
            .into_iter()
            .map(|r| match r {
                Value::Object(m) => Ok(m),
                _ => Err(shape()),
            })
            .collect(),
        Value::Object(m) => Ok(vec![m]),
        _ => Err(shape()),
    }
}

fn request_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Score on this thread for small batches, on the blocking pool for large ones.
async fn run_predict(st: &Shared, input: Input, key: Option<String>) -> Result<Answer, ApiError> {
    if input.rows_hint() <= INLINE_ROWS {
        return st.predict(input, key.as_deref());
    }
    let st = st.clone();
    tokio::task::spawn_blocking(move || st.predict(input, key.as_deref()))
        .await
        .map_err(|e| ApiError::new(500, format!("scoring failed: {e}")))?
}

fn with_model_header(mut resp: Response, model: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(model) {
        resp.headers_mut().insert("x-model", v);
    }
    resp
}

/// `POST /predict`: JSON records or CSV → predictions (+ probabilities per class).
async fn predict(
    St(st): St<Shared>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_or_error(body)?;
    if !st.request_delay.is_zero() {
        tokio::time::sleep(st.request_delay).await;
    }
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let csv =
        ctype.contains("csv") || (ctype.is_empty() && !matches!(first, Some(b'[') | Some(b'{')));
    let input = if csv {
        Input::Csv(body.to_vec())
    } else {
        Input::Records(parse_records(&body)?)
    };
    let ans = run_predict(&st, input, request_key(&headers)).await?;
    let mut out = Map::new();
    out.insert("model".into(), Value::String(ans.model.clone()));
    if let Some(p) = &ans.proba {
        let probs: Vec<Value> = p
            .iter()
            .map(|row| {
                Value::Object(
                    ans.classes
                        .iter()
                        .zip(row)
                        .map(|(c, &x)| (c.clone(), json!(x)))
                        .collect(),
                )
            })
            .collect();
        out.insert("predictions".into(), Value::Array(ans.outputs));
        out.insert("probabilities".into(), Value::Array(probs));
    } else {
        out.insert("predictions".into(), Value::Array(ans.outputs));
    }
    Ok(with_model_header(
        json_response(200, Value::Object(out)),
        &ans.model,
    ))
}

async fn live() -> Response {
    json_response(200, json!({"live": true}))
}

async fn ready() -> Response {
    json_response(200, json!({"ready": true}))
}

async fn server_metadata() -> Response {
    json_response(
        200,
        json!({"name": "automl", "version": env!("CARGO_PKG_VERSION"), "extensions": []}),
    )
}

async fn not_found() -> Response {
    error(
        404,
        "no such route; try POST /predict, /v2/models/{name}/infer, GET /metrics or /v2/health/ready",
    )
}

/// The served model when `name` is the service's name (or the current primary's).
fn check_name(st: &State, name: &str) -> Result<(), ApiError> {
    if name == st.service_name || name == st.primary_name() {
        Ok(())
    } else {
        Err(ApiError::new(
            404,
            format!(
                "no model named `{name}`; this server serves `{}`",
                st.service_name
            ),
        ))
    }
}

fn datatype(kind: &str) -> &'static str {
    match kind {
        "categorical" => "BYTES",
        "boolean" => "BOOL",
        _ => "FP64",
    }
}

/// `GET /v2/models/{name}`: inputs (the schema), outputs, task and classes.
async fn model_metadata(
    St(st): St<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    check_name(&st, &name)?;
    let m = st.primary_model();
    let study = &m.model.study;
    let inputs: Vec<Value> = study
        .schema
        .iter()
        .map(|c| json!({"name": c.name, "datatype": datatype(&c.kind), "shape": [-1]}))
        .collect();
    let classification = study.task.is_classification();
    let mut outputs = vec![json!({
        "name": "predict",
        "datatype": if classification { "BYTES" } else { "FP64" },
        "shape": [-1],
    })];
    if classification {
        outputs.push(json!({
            "name": "probabilities",
            "datatype": "FP64",
            "shape": [-1, study.classes.len()],
        }));
    }
    Ok(json_response(
        200,
        json!({
            "name": st.service_name,
            "versions": [],
            "platform": "automl",
            "inputs": inputs,
            "outputs": outputs,
            "parameters": {
                "description": m.description,
                "model": m.name,
                "task": study.task.to_string(),
                "classes": study.classes,
                "status": st.status(),
            },
        }),
    ))
}

async fn model_ready(St(st): St<Shared>, Path(name): Path<String>) -> Result<Response, ApiError> {
    check_name(&st, &name)?;
    Ok(json_response(200, json!({"name": name, "ready": true})))
}

/// Flatten nested JSON arrays (row-major tensor data).
fn flatten(v: Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(items) => items.into_iter().for_each(|x| flatten(x, out)),
        x => out.push(x),
    }
}

/// OIP v2 input tensors (one per column, `shape[0]` rows) → records.
fn tensors_to_records(body: &[u8]) -> Result<(Option<Value>, Records), ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(malformed_json)?;
    let bad = |m: &str| {
        ApiError::new(
            400,
            format!(
                "{m}; expected {{\"inputs\": [{{\"name\": column, \"shape\": [n], \"datatype\": \"FP64\"|\"BYTES\", \"data\": [...]}}, ...]}}"
            ),
        )
    };
    let Value::Object(mut req) = v else {
        return Err(bad("the body is not a JSON object"));
    };
    let id = req.remove("id");
    let Some(Value::Array(inputs)) = req.remove("inputs") else {
        return Err(bad("no `inputs` array"));
    };
    let mut columns: Vec<(String, Vec<Value>)> = Vec::with_capacity(inputs.len());
    let mut n_rows: Option<usize> = None;
    for t in inputs {
        let Value::Object(mut t) = t else {
            return Err(bad("an input tensor is not an object"));
        };
        let Some(Value::String(name)) = t.remove("name") else {
            return Err(bad("an input tensor has no `name`"));
        };
        let mut data = Vec::new();
        flatten(t.remove("data").unwrap_or(Value::Null), &mut data);
        let rows = t
            .get("shape")
            .and_then(|s| s.get(0))
            .and_then(Value::as_u64)
            .map_or(data.len(), |r| r as usize);
        if rows != data.len() {
            return Err(bad(&format!(
                "input `{name}` has shape [{rows}] but {} values (one column per input tensor)",
                data.len()
            )));
        }
        if n_rows.is_some_and(|n| n != rows) {
            return Err(bad(&format!(
                "input `{name}` has {rows} rows but an earlier input has {}",
                n_rows.unwrap_or(0)
            )));
        }
        n_rows = Some(rows);
        columns.push((name, data));
    }
    let n = n_rows.unwrap_or(0);
    let mut records: Vec<Map<String, Value>> = (0..n).map(|_| Map::new()).collect();
    for (name, data) in columns {
        for (r, x) in records.iter_mut().zip(data) {
            r.insert(name.clone(), x);
        }
    }
    Ok((id, records))
}

/// `POST /v2/models/{name}/infer`.
async fn infer(
    St(st): St<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_name(&st, &name)?;
    let body = body_or_error(body)?;
    let (id, records) = tensors_to_records(&body)?;
    let n = records.len();
    let ans = run_predict(&st, Input::Records(records), request_key(&headers)).await?;
    let classification = ans.proba.is_some() || !ans.classes.is_empty();
    let mut outputs = vec![json!({
        "name": "predict",
        "datatype": if classification { "BYTES" } else { "FP64" },
        "shape": [n],
        "data": ans.outputs,
    })];
    if let Some(p) = &ans.proba {
        let flat: Vec<f64> = p.iter().flatten().copied().collect();
        outputs.push(json!({
            "name": "probabilities",
            "datatype": "FP64",
            "shape": [n, ans.classes.len()],
            "data": flat,
            "parameters": {"classes": ans.classes},
        }));
    }
    let mut out = json!({
        "model_name": st.service_name,
        "outputs": outputs,
        "parameters": {"model": ans.model},
    });
    if let Some(id) = id {
        out["id"] = id;
    }
    Ok(with_model_header(json_response(200, out), &ans.model))
}

/// `GET /metrics`: Prometheus text.
/// `GET /drift`: the recent traffic (the last `--drift-window` rows answered) checked against
/// the served model's reference profile now; 409 when there is nothing to check.
async fn drift(St(st): St<Shared>) -> Result<Response, ApiError> {
    let st2 = st.clone();
    let (model, rows, report) = tokio::task::spawn_blocking(move || st2.run_drift_check())
        .await
        .map_err(|e| ApiError::new(500, format!("the drift check failed: {e}")))??;
    Ok(json_response(
        200,
        json!({"model": model, "window_rows": rows, "report": report}),
    ))
}

async fn metrics(St(st): St<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(),
    )
        .into_response()
}

/// 403 when admin is disabled or the token is wrong, 401 when none was given.
fn authorize(st: &State, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(want) = &st.admin_token else {
        return Err(ApiError::new(
            403,
            "the admin endpoints are disabled; start the server with --admin-token (or AUTOML_ADMIN_TOKEN)",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| headers.get("x-admin-token").and_then(|v| v.to_str().ok()));
    let Some(given) = given else {
        return Err(ApiError::new(
            401,
            "an admin token is required: send `Authorization: Bearer TOKEN`",
        ));
    };
    // Compare in time independent of where the strings differ.
    let same = given.len() == want.len()
        && given
            .bytes()
            .zip(want.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(ApiError::new(403, "wrong admin token"))
    }
}

async fn admin_status(St(st): St<Shared>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize(&st, &headers)?;
    Ok(json_response(200, st.status()))
}

async fn admin_promote(St(st): St<Shared>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize(&st, &headers)?;
    match st.promote_canary() {
        Some((old, new)) => Ok(json_response(
            200,
            json!({"promoted": new, "replaced": old, "status": st.status()}),
        )),
        None => Err(ApiError::new(409, "there is no canary to promote")),
    }
}

async fn admin_rollback(St(st): St<Shared>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize(&st, &headers)?;
    match st.remove_canary(
        None,
        "canary_rolled_back",
        "rolled back by an admin request",
    ) {
        Some(name) => Ok(json_response(
            200,
            json!({"rolled_back": name, "status": st.status()}),
        )),
        None => Err(ApiError::new(409, "there is no canary to roll back")),
    }
}
