//! The `automl` command: parses arguments, dispatches to one module per subcommand and maps
//! errors to exit codes (0 success, 2 any error: one line naming what was wrong and what to do).

mod args;
mod cmd_compare;
mod cmd_export;
mod cmd_fit;
mod cmd_leaderboard;
mod cmd_portfolio;
mod cmd_predict;
mod cmd_report;
mod cmd_show;
mod cmd_studies;
mod cmd_ui;
mod output;

use clap::Parser;

fn main() {
    let cli = args::Cli::parse();
    let result = match cli.command {
        args::Command::Fit(a) => cmd_fit::run(*a),
        args::Command::Leaderboard(a) => cmd_leaderboard::run(a),
        args::Command::Show(a) => cmd_show::run(a),
        args::Command::Predict(a) => cmd_predict::run(a),
        args::Command::Studies(a) => cmd_studies::run(a),
        args::Command::Compare(a) => cmd_compare::run(a),
        args::Command::Export(a) => cmd_export::run(a),
        args::Command::Report(a) => cmd_report::run(a),
        args::Command::Ui(a) => cmd_ui::run(a),
        args::Command::Portfolio(a) => cmd_portfolio::run(a),
    };
    if let Err(e) = result {
        // One line: the outermost context and its causes.
        let mut msg = e.to_string();
        for cause in e.chain().skip(1) {
            let c = cause.to_string();
            if !msg.contains(&c) {
                msg.push_str(": ");
                msg.push_str(&c);
            }
        }
        eprintln!("error: {}", msg.replace('\n', " "));
        std::process::exit(2);
    }
}
