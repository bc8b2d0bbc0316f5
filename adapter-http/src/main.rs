//! `adapter-http`: run the provider, or print its OpenAPI document.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "A formally tested OpenID Connect provider")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address to listen on.
    #[arg(long, env = "OP_LISTEN", default_value = "127.0.0.1:8080", global = true)]
    listen: String,
    /// Where sled keeps its data.
    #[arg(long, env = "OP_DATA_DIR", default_value = "./data", global = true)]
    data_dir: PathBuf,
    /// Public base URL behind a proxy (issuers are `{base}/{tenant}`); default `http://{listen}`.
    #[arg(long, env = "OP_ISSUER_BASE", global = true)]
    issuer_base: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve (the default).
    Serve,
    /// Print the OpenAPI document (the content of openapi.yaml).
    Openapi,
}

#[tokio::main]
async fn main() -> Result<(), adapter_http::StartError> {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        print!("{}", adapter_http::openapi_yaml());
        return Ok(());
    }
    tracing_subscriber::fmt().with_target(false).init();
    let server = adapter_http::start(&cli.listen, &cli.data_dir, cli.issuer_base).await?;
    tracing::info!(addr = %server.addr, base = %server.base, data_dir = %cli.data_dir.display(), "listening");
    if let Some(d) = &server.demo {
        println!("First start: created the demo tenant. These secrets are shown once.");
        println!("  issuer:              {}", d.issuer);
        println!("  discovery:           {}/.well-known/openid-configuration", d.issuer);
        println!("  demo client_id:      {}", d.client_id);
        println!("  demo client_secret:  {}", d.client_secret);
        println!("  demo redirect_uri:   {}", adapter_http::bootstrap::DEMO_REDIRECT);
        println!("  demo user:           {} / {}", d.username, d.password);
        println!("  admin client_id:     {}", d.admin_client_id);
        println!("  admin client_secret: {}", d.admin_client_secret);
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    server.stop().await?;
    Ok(())
}
