//! `mailkeep user add|passwd|del|list`: edit the users file. Passwords are
//! read from the terminal (twice, without echo) or, when stdin is not a
//! terminal, as one line from stdin; never from the command line. They are
//! stored in the `--scheme` chosen (ARGON2ID unless told otherwise; an
//! account needs SCRAM-SHA-256 or SCRAM-SHA-1 to log in with SCRAM).

use std::io::{BufRead, IsTerminal};
use std::path::Path;

use anyhow::{Context, bail};
use mailkeep_auth as userdb;
use mailkeep_config::Config;

use crate::cli::UserAction;

pub fn run(config_path: Option<&Path>, action: UserAction) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    let users = config.users_file();
    match action {
        UserAction::Add {
            name,
            uid,
            gid,
            home,
            scheme,
        } => {
            let (default_uid, default_gid) = if nix::unistd::Uid::effective().is_root() {
                (config.privileges.mail_uid, config.privileges.mail_gid)
            } else {
                (
                    nix::unistd::Uid::current().as_raw(),
                    nix::unistd::Gid::current().as_raw(),
                )
            };
            let password = read_password()?;
            let home = home.unwrap_or_else(|| config.home_base().join(&name));
            if let Some(dir) = users.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            userdb::add_user_with_scheme(
                &users,
                &name,
                &password,
                scheme,
                uid.unwrap_or(default_uid),
                gid.unwrap_or(default_gid),
                &home,
            )?;
            println!("added {name}");
        }
        UserAction::Passwd { name, scheme } => {
            let password = read_password()?;
            userdb::set_password_with_scheme(&users, &name, &password, scheme)?;
            println!("password of {name} changed");
        }
        UserAction::Del { name } => {
            userdb::delete_user(&users, &name)?;
            println!("deleted {name} (mail left on disk)");
        }
        UserAction::List => {
            for u in userdb::list_users(&users)? {
                let id = |v: Option<u32>| v.map_or_else(|| "-".to_owned(), |n| n.to_string());
                let home = u
                    .home
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |h| h.display().to_string());
                println!("{}\t{}:{}\t{home}", u.name, id(u.uid), id(u.gid));
            }
        }
    }
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Again: ")?;
        if first != second {
            bail!("the passwords differ");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    };
    if password.is_empty() {
        bail!("empty password refused");
    }
    Ok(password)
}
