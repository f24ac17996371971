//! The `mailkeep` binary: the command line, and the dispatch of the roles
//! the master re-executes this binary in. Nothing else lives here.

mod admin_acl;
mod admin_cmd;
mod admin_expunge;
mod admin_ps;
mod admin_socket;
mod cli;
mod cluster_cmd;
mod cluster_roles;
mod deliver_cmd;
mod logging;
mod plugins;
mod protocol_role;
mod roles;
mod user_cmd;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config } => {
            logging::init("master");
            serve(config)
        }
        Command::User { config, action } => user_cmd::run(config.as_deref(), action),
        Command::Admin { config, action } => match action {
            cli::AdminAction::Ps => admin_ps::run(config.as_deref()),
            cli::AdminAction::Verify { user } => {
                admin_cmd::run(config.as_deref(), &user, admin_cmd::Action::Verify)
            }
            cli::AdminAction::Reindex { user } => {
                admin_cmd::run(config.as_deref(), &user, admin_cmd::Action::Reindex)
            }
            cli::AdminAction::Quota {
                action: cli::QuotaAction::Get { user },
            } => admin_cmd::run(config.as_deref(), &user, admin_cmd::Action::QuotaGet),
            cli::AdminAction::Quota {
                action: cli::QuotaAction::Recalc { user },
            } => admin_cmd::run(config.as_deref(), &user, admin_cmd::Action::QuotaRecalc),
            cli::AdminAction::Expunge {
                user,
                mailbox,
                conditions,
            } => admin_expunge::run(config.as_deref(), &user, &mailbox, &conditions),
            cli::AdminAction::Acl { action } => {
                let (user, mailbox, action) = match action {
                    cli::AclCli::Get { user, mailbox } => {
                        (user, mailbox, admin_acl::AclAction::Get)
                    }
                    cli::AclCli::Set {
                        user,
                        mailbox,
                        identifier,
                        rights,
                    } => (
                        user,
                        mailbox,
                        admin_acl::AclAction::Set { identifier, rights },
                    ),
                    cli::AclCli::Delete {
                        user,
                        mailbox,
                        identifier,
                    } => (user, mailbox, admin_acl::AclAction::Delete { identifier }),
                };
                admin_acl::run(config.as_deref(), &user, &mailbox, action)
            }
        },
        Command::Cluster { dir, action } => cluster_cmd::run(&dir, action),
        Command::Deliver {
            config,
            user,
            mailbox,
            from,
        } => {
            let code = deliver_cmd::run(config.as_deref(), &user, mailbox.as_deref(), &from);
            return std::process::ExitCode::from(code);
        }
        Command::Role(role) => roles::run(role),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mailkeep: {}", report(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line. A cause is left out when the text
/// before it already ends with it: the libraries' errors print their
/// source in their own message ("binding ...: Address already in use"),
/// which the chain would print a second time.
fn report(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.ends_with(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

fn serve(config_path: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    // First: nothing the master inherited (a shell's open files, a service
    // manager's descriptors) may reach a child; each gets what it is passed.
    mailkeep_storage_rpc::fd::close_inherited_on_exec()?;
    let config = mailkeep_config::Config::load(config_path.as_deref())?;
    plugins::check(&config.plugins)?;
    // One thread: the master forks children, and a child's parent-death
    // signal follows the thread that started it, so that thread must live
    // as long as the master does.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(mailkeep_master::serve(config, config_path))?;
    Ok(())
}
