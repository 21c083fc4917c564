//! `ParamValue` reads back what it writes, from JSON and from a JSON value, exactly as serde's
//! untagged enum did (bool, then integer, then float, then string).

use automl_core::{ParamValue, Params};
use serde_json::json;

#[test]
fn param_values_read_like_the_untagged_enum() {
    let cases = [
        ("true", ParamValue::Bool(true)),
        ("3", ParamValue::Int(3)),
        ("-7", ParamValue::Int(-7)),
        ("3.0", ParamValue::Float(3.0)),
        ("0.05", ParamValue::Float(0.05)),
        ("1e-300", ParamValue::Float(1e-300)),
        ("18446744073709551615", ParamValue::Float(u64::MAX as f64)),
        ("\"gbdt\"", ParamValue::Str("gbdt".into())),
        ("\"a\\\"b\"", ParamValue::Str("a\"b".into())),
        ("\"3\"", ParamValue::Str("3".into())),
    ];
    for (text, want) in cases {
        let got: ParamValue = serde_json::from_str(text).unwrap();
        assert_eq!(got, want, "{text}");
        let via_value: ParamValue =
            serde_json::from_value(serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(via_value, want, "{text} through a Value");
    }
    for bad in ["null", "[1]", "{\"a\":1}"] {
        assert!(serde_json::from_str::<ParamValue>(bad).is_err(), "{bad}");
    }
}

#[test]
fn params_roundtrip_through_json() {
    let p: Params = serde_json::from_value(json!({
        "bootstrap": false, "max_depth": 6, "learning_rate": 0.1, "loss": "logloss", "l2": 1.0
    }))
    .unwrap();
    assert_eq!(p["max_depth"], ParamValue::Int(6));
    assert_eq!(p["l2"], ParamValue::Float(1.0));
    let back: Params = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(back, p);
}
