//! `automl predict`: predict a CSV with a study's final model (or one trial's fold models).

use crate::args::PredictArgs;
use anyhow::Result;
use automl_engine::{ModelChoice, load_model, predict_csv};

pub fn run(a: PredictArgs) -> Result<()> {
    let tokens = automl_data::ReadOptions::default().missing_tokens;
    if let Some(file) = &a.model {
        let model = automl_engine::export::read_model_file(file)?;
        let n = predict_csv(&model, &a.input, &a.output, &tokens)?;
        eprintln!(
            "wrote {n} predictions to {} using {} ({})",
            a.output.display(),
            file.display(),
            model.description
        );
        return Ok(());
    }
    let store = crate::store_arg::open_models(&a.store.store)?;
    let choice = a
        .trial
        .map(ModelChoice::Trial)
        .unwrap_or(ModelChoice::Final);
    let model = load_model(store.as_ref(), a.study, choice)?;
    drop(store);
    let n = predict_csv(&model, &a.input, &a.output, &tokens)?;
    eprintln!(
        "wrote {n} predictions to {} using the {}",
        a.output.display(),
        model.description
    );
    Ok(())
}
