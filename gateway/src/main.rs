//! `ithaca`: the gateway's command line.

mod commands;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ithaca_gateway::config::{
    CONFIG_ENV, CliOverrides, Config, ConfigLoader, DEFAULT_CONFIG_TOML, LogFormat,
};

/// Ithaca: a SOAP gateway with a CORBA bridge, a WS-AtomicTransaction
/// coordinator and a membership oracle.
#[derive(Debug, Parser)]
#[command(name = "ithaca", version, about, long_about = None)]
struct Cli {
    /// The configuration file (TOML); see `ithaca config default`.
    #[arg(long, global = true, value_name = "FILE", env = CONFIG_ENV)]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (the default when no command is given).
    Serve(ServeArgs),
    /// Check or print configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Work with WSDL and XSD contracts.
    #[command(subcommand)]
    Wsdl(WsdlCommand),
    /// Work with OMG IDL files.
    #[command(subcommand)]
    Idl(IdlCommand),
    /// Call CORBA objects and serve a naming service.
    #[command(subcommand)]
    Corba(commands::corba::CorbaCommand),
    /// Inspect the membership oracle of a running gateway (its admin
    /// endpoints): the view, the members and their health, the oracle node.
    #[command(subcommand)]
    Membership(commands::membership::MembershipCommand),
    /// Inspect the WS-AT coordinator of a running gateway (its admin
    /// endpoint): list transactions, show one.
    #[command(subcommand)]
    Txn(commands::txn::TxnCommand),
    /// Run the scenarios of the quick start against a gateway and print a
    /// report (`ithaca demo bank`).
    #[command(subcommand)]
    Demo(commands::demo::DemoCommand),
    /// Generate Rust code from a WSDL: a type per schema type, and per
    /// port type a server trait and a client (what
    /// `ithaca_wsdl::codegen::generate` returns for build.rs); exit 1 with
    /// file:line:col diagnostics if it cannot.
    Codegen {
        /// The WSDL file (its local imports and includes are read too).
        file: PathBuf,
        /// Write the code to OUT instead of standard output.
        #[arg(short = 'o', long = "output", value_name = "OUT")]
        output: Option<PathBuf>,
    },
    /// Map an IDL file to WSDL 1.1 (OMG CORBA to WSDL/SOAP Interworking
    /// 1.2.1); exit 2 with file:line:col diagnostics if it cannot.
    Idl2wsdl(commands::bridge::Idl2WsdlArgs),
    /// Map a WSDL 1.1 file to IDL (OMG WSDL/SOAP to CORBA Interworking);
    /// exit 2 with file:line:col diagnostics if it cannot.
    Wsdl2idl(commands::bridge::Wsdl2IdlArgs),
    /// Host every SOAP port of a WSDL, answering each operation with a
    /// schema-valid sample response (and serving ?wsdl), until SIGTERM or
    /// SIGINT.
    Mock {
        /// The WSDL file (its local imports and includes are read too).
        file: PathBuf,
        /// Listen on ADDR.
        #[arg(long, value_name = "ADDR", default_value = commands::mock::DEFAULT_LISTEN)]
        listen: String,
    },
}

#[derive(Debug, Subcommand)]
enum IdlCommand {
    /// Preprocess, parse and check IDL files as omniidl does; print every
    /// diagnostic (file:line:col) and exit 1 if any file has an error.
    Check {
        /// The files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Add DIR to the #include search path (repeatable).
        #[arg(short = 'I', value_name = "DIR")]
        include: Vec<PathBuf>,
    },
    /// Print the interfaces (operations, attributes) and types declared in
    /// FILE, not in its includes; exit 1 (diagnostics on stderr) if it has
    /// errors.
    Describe {
        /// The file to describe.
        file: PathBuf,
        /// Add DIR to the #include search path (repeatable).
        #[arg(short = 'I', value_name = "DIR")]
        include: Vec<PathBuf>,
        /// Print JSON (the only format).
        #[arg(long, required = true)]
        json: bool,
    },
    /// Generate Rust types, client stubs and servant skeletons from an IDL
    /// file (what `ithaca_idl::codegen::generate` returns for build.rs);
    /// exit 1 with file:line:col diagnostics if it cannot.
    Codegen(commands::idl_codegen::IdlCodegenArgs),
}

#[derive(Debug, Subcommand)]
enum WsdlCommand {
    /// Load WSDL or XSD files with their local imports and includes, print
    /// every diagnostic (file:line:col) and each SOAP operation; exit 1 if
    /// any file has an error.
    Check {
        /// The files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also fail on what the loader tolerates with a warning (unbound
        /// or undeclared prefixes, references defined nowhere), as strict
        /// validators such as CXF's do.
        #[arg(long)]
        strict: bool,
    },
    /// Print the services, SOAP ports and operations of a contract
    /// (QNames as {namespace}local); exit 1 if it has errors.
    Describe {
        /// The WSDL file.
        file: PathBuf,
        /// Print one JSON document instead of an outline.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Default, clap::Args)]
struct ServeArgs {
    /// Listen on ADDR (overrides server.listen), e.g. 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Keep durable state in DIR (overrides storage.data_dir).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Serve the admin endpoints on their own listener (overrides admin.listen).
    #[arg(long, value_name = "ADDR")]
    admin_listen: Option<String>,
    /// The membership oracle's voters, id=host:port,... (overrides
    /// membership.oracle_peers).
    #[arg(long, value_name = "PEERS")]
    oracle_peers: Option<String>,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check a configuration file (with ITHACA_* overrides applied); exit 2
    /// with one line naming the key and the problem if it is bad.
    Check {
        /// The file to check.
        file: PathBuf,
    },
    /// Print the full default configuration, every key commented.
    Default,
}

/// Exit status for configuration and start-up errors.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Config(ConfigCommand::Default)) => {
            print!("{DEFAULT_CONFIG_TOML}");
            ExitCode::SUCCESS
        }
        Some(Command::Config(ConfigCommand::Check { file })) => {
            let checked = ConfigLoader::new()
                .file(&file)
                .and_then(|l| l.env(std::env::vars()))
                .and_then(ConfigLoader::build);
            match checked {
                Ok(_) => {
                    println!("{}: ok", file.display());
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("ithaca: config error: {error}");
                    ExitCode::from(EXIT_CONFIG)
                }
            }
        }
        Some(Command::Wsdl(WsdlCommand::Check { files, strict })) => {
            commands::wsdl::check(&files, strict).unwrap_or_else(|error| {
                eprintln!("ithaca: {error:#}");
                ExitCode::FAILURE
            })
        }
        Some(Command::Wsdl(WsdlCommand::Describe { file, json })) => {
            commands::wsdl::describe(&file, json).unwrap_or_else(|error| {
                eprintln!("ithaca: {error:#}");
                ExitCode::FAILURE
            })
        }
        Some(Command::Idl(IdlCommand::Check { files, include })) => {
            commands::idl::check(&files, &include)
        }
        Some(Command::Idl(IdlCommand::Describe { file, include, .. })) => {
            commands::idl::describe(&file, &include)
        }
        Some(Command::Idl(IdlCommand::Codegen(args))) => commands::idl_codegen::run(&args),
        Some(Command::Corba(command)) => commands::corba::run(command),
        Some(Command::Membership(command)) => {
            commands::membership::run(cli.config.as_deref(), command)
        }
        Some(Command::Txn(command)) => commands::txn::run(cli.config.as_deref(), command),
        Some(Command::Demo(command)) => commands::demo::run(command),
        Some(Command::Mock { file, listen }) => commands::mock::mock(&file, &listen)
            .unwrap_or_else(|error| {
                eprintln!("ithaca: {error:#}");
                ExitCode::FAILURE
            }),
        Some(Command::Codegen { file, output }) => commands::codegen::codegen(
            &file,
            output.as_deref(),
            &ithaca_wsdl::codegen::Options::default(),
        )
        .unwrap_or_else(|error| {
            eprintln!("ithaca: {error:#}");
            ExitCode::FAILURE
        }),
        Some(Command::Idl2wsdl(args)) => commands::bridge::idl2wsdl(&args),
        Some(Command::Wsdl2idl(args)) => commands::bridge::wsdl2idl(&args),
        Some(Command::Serve(args)) => serve(cli.config, args),
        None => serve(cli.config, ServeArgs::default()),
    }
}

fn serve(config_file: Option<PathBuf>, args: ServeArgs) -> ExitCode {
    let overrides = CliOverrides {
        listen: args.listen,
        data_dir: args.data_dir,
        admin_listen: args.admin_listen,
        oracle_peers: args.oracle_peers,
    };
    let config = match Config::load(config_file.as_deref(), &overrides) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("ithaca: config error: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    init_logging(&config);
    // On one CPU (the affinity mask or cgroup quota allows no more) one
    // thread serves best: a current-thread runtime spares the
    // work-stealing scheduler's atomics and cross-thread wake-ups.
    let one_cpu = std::thread::available_parallelism().is_ok_and(|cpus| cpus.get() == 1);
    let mut runtime = if one_cpu {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ithaca: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("ithaca: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> anyhow::Result<ExitCode> {
    let running = match ithaca_gateway::serve::start(config).await {
        Ok(running) => running,
        Err(error) => {
            eprintln!("ithaca: {error}");
            return Ok(ExitCode::from(error.exit_code()));
        }
    };
    // Listen for SIGTERM/SIGINT before announcing anything: whoever reads
    // the banner may signal at once.
    let mut signals = ShutdownSignals::install().context("cannot listen for signals")?;
    let mut out = std::io::stdout().lock();
    for line in running.summary() {
        writeln!(out, "{line}")?;
    }
    writeln!(
        out,
        "stop with Ctrl-C or SIGTERM; in-flight requests are drained first"
    )?;
    out.flush()?;
    drop(out);

    let signal = signals.next().await;
    tracing::info!(signal, "shutting down: draining in-flight requests");
    let drain = running.shutdown();
    tokio::pin!(drain);
    tokio::select! {
        outcome = &mut drain => {
            if outcome.abandoned_connections > 0 {
                tracing::warn!(connections = outcome.abandoned_connections, "drain deadline passed");
            }
            tracing::info!("stopped");
            Ok(ExitCode::SUCCESS)
        }
        second = signals.next() => {
            tracing::warn!(signal = second, "second signal: exiting without waiting for the drain");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// SIGTERM and SIGINT, listened for from `install` on (so a signal that
/// comes right after start-up is not the default action, death).
pub(crate) struct ShutdownSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    pub(crate) fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for the next SIGTERM or SIGINT and says which.
    pub(crate) async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let text = std::env::var("RUST_LOG")
        .ok()
        .filter(|f| EnvFilter::try_new(f).is_ok())
        .unwrap_or_else(|| config.log.filter.clone());
    let mut filter = EnvFilter::try_new(&text).unwrap_or_else(|_| EnvFilter::new("info"));
    // The membership oracle's openraft logs every election step at info:
    // keep it to warnings unless the filter names it.
    if !text.contains("openraft")
        && let Ok(directive) = "openraft=warn".parse()
    {
        filter = filter.add_directive(directive);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
