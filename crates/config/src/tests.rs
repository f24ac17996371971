use super::*;

#[test]
fn defaults_need_no_file() {
    let c = Config::load(None).expect("defaults load");
    assert!(c.data_dir().is_absolute());
    assert!(c.data_dir().ends_with("mailkeep-data"));
    assert_eq!(
        c.imap.listener,
        vec![
            Listener {
                name: "imap".into(),
                address: "127.0.0.1:1143".into(),
                kind: ListenerKind::Plain,
                proxy_protocol: false,
                mode: None,
                owner: None,
                group: None,
            },
            Listener {
                name: "imaps".into(),
                address: "127.0.0.1:1993".into(),
                kind: ListenerKind::Tls,
                proxy_protocol: false,
                mode: None,
                owner: None,
                group: None,
            },
        ]
    );
    // LMTP: loopback TCP and the UNIX socket under the data directory.
    let lmtp: Vec<_> = c
        .lmtp
        .listener
        .iter()
        .map(|l| (l.name.as_str(), l.address.clone()))
        .collect();
    assert_eq!(
        lmtp,
        vec![
            ("lmtp", "127.0.0.1:1124".to_owned()),
            (
                "lmtp-unix",
                c.data_dir().join("lmtp.sock").display().to_string()
            ),
        ]
    );
    assert_eq!(c.server.max_message_size, 50 * 1024 * 1024);
    assert_eq!(c.imap.plaintext_logins, PlaintextLogins::Loopback);
    assert_eq!(c.tls.min_version, TlsMinVersion::Tls12);
    assert!(c.tls.cert_file.is_none());
    assert_eq!(
        c.self_signed_files().0,
        c.data_dir().join("tls/self-signed.pem")
    );
    assert_eq!(c.users_file(), c.data_dir().join("users"));
    assert_eq!(c.key_file(), c.data_dir().join("keys/host.key"));
    assert_eq!(c.public_key_file(), c.data_dir().join("keys/host.key.pub"));
    assert_eq!(
        c.trusted_hosts_file(),
        c.data_dir().join("keys/trusted-hosts")
    );
    assert_eq!(c.privileges.unprivileged_user, "nobody");
}

#[test]
fn file_overrides_and_relative_paths_follow_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "[server]\ndata_dir = \"/srv/mk\"\n[auth]\nusers_file = \"etc/users\"\n\
         [[imap.listener]]\nname = \"a\"\naddress = \"127.0.0.2:143\"\nkind = \"plain\"\n",
    )
    .expect("write");
    let c = Config::load(Some(&path)).expect("load");
    assert_eq!(
        c.imap.listener.len(),
        1,
        "listing listeners replaces the defaults"
    );
    assert_eq!(c.imap.listener[0].address, "127.0.0.2:143");
    assert_eq!(
        c.users_file(),
        std::path::PathBuf::from("/srv/mk/etc/users")
    );
    assert_eq!(c.home_base(), std::path::PathBuf::from("/srv/mk/home"));
}

#[test]
fn unknown_key_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[imap]\nlisten_on = [\"x\"]\n").expect("write");
    let err = Config::load(Some(&path))
        .expect_err("must fail")
        .to_string();
    assert!(err.contains("listen_on"), "{err}");
}

#[test]
fn nonsense_values_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[privileges]\nmail_uid = 0\n").expect("write");
    assert!(Config::load(Some(&path)).is_err());
    std::fs::write(&path, "[imap]\nprocesses = 0\n").expect("write");
    assert!(Config::load(Some(&path)).is_err());
    for imap in [
        "idle_keepalive_secs = 0",
        "idle_keepalive_secs = 1801",
        "idle_keepalive_secs = 9223372036854775807",
    ] {
        std::fs::write(&path, format!("[imap]\n{imap}\n")).expect("write");
        let err = Config::load(Some(&path)).expect_err(imap).to_string();
        assert!(err.contains("idle_keepalive_secs"), "{imap}: {err}");
    }
    std::fs::write(&path, "[imap]\nidle_timeout_secs = 9223372036854775807\n").expect("write");
    let err = Config::load(Some(&path))
        .expect_err("a huge idle timeout")
        .to_string();
    assert!(err.contains("idle_timeout_secs"), "{err}");
    for storage in ["shared_uid = 0", "shared_gid = 0", "shared_uid = 5000"] {
        std::fs::write(&path, format!("[storage]\n{storage}\n")).expect("write");
        let err = Config::load(Some(&path)).expect_err(storage).to_string();
        assert!(err.contains("shared_uid"), "{storage}: {err}");
    }
}

#[test]
fn example_file_parses() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/mailkeep.example.toml"
    );
    let c = Config::load(Some(std::path::Path::new(example))).expect("example parses");
    let d = Config::load(None).expect("defaults");
    // The example documents the defaults: loading it changes nothing.
    assert_eq!(format!("{c:#?}"), format!("{d:#?}"));
}

fn load_text(text: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.toml");
    std::fs::write(&path, text).expect("write");
    Config::load(Some(&path))
}

#[test]
fn listeners_take_ipv6_and_unix_paths_under_the_data_dir() {
    let c = load_text(
        "[server]\ndata_dir = \"/srv/mk\"\n\
         [[imap.listener]]\nname = \"v6\"\naddress = \"[::1]:1143\"\nkind = \"plain\"\n\
         [[imap.listener]]\nname = \"v6s\"\naddress = \"[::]:993\"\nkind = \"tls\"\n\
         [[imap.listener]]\nname = \"local\"\naddress = \"run/imap.sock\"\nkind = \"unix\"\n",
    )
    .expect("load");
    assert_eq!(
        c.imap.listener[0].socket_addr(),
        Some("[::1]:1143".parse().expect("addr"))
    );
    assert_eq!(c.imap.listener[1].kind, ListenerKind::Tls);
    assert_eq!(c.imap.listener[2].address, "/srv/mk/run/imap.sock");
    // Three imap listeners, lmtp's two defaults and pop3's two.
    assert_eq!(c.listeners().len(), 7);
    assert_eq!(c.lmtp.listener[1].address, "/srv/mk/lmtp.sock");
}

#[test]
fn bad_listeners_are_refused_with_the_reason() {
    let listener = |name: &str, address: &str, kind: &str| {
        format!(
            "[[imap.listener]]\nname = \"{name}\"\naddress = \"{address}\"\nkind = \"{kind}\"\n"
        )
    };
    let twice = format!(
        "{}{}",
        listener("a", "127.0.0.1:1", "plain"),
        listener("a", "127.0.0.1:2", "tls")
    );
    let err = load_text(&twice).expect_err("duplicate").to_string();
    assert!(err.contains("used twice"), "{err}");
    let err = load_text(&listener("a", "localhost:143", "plain"))
        .expect_err("not ip:port")
        .to_string();
    assert!(err.contains("ip:port"), "{err}");
    let err = load_text(&listener("a:b", "127.0.0.1:1", "plain"))
        .expect_err("bad name")
        .to_string();
    assert!(err.contains("letters"), "{err}");
    assert!(load_text(&listener("a", "127.0.0.1:1", "starttls")).is_err());
    assert!(load_text("[imap]\nlistener = []\n").is_err());
}

#[test]
fn tls_settings_parse_and_are_checked() {
    let c = load_text(
        "[tls]\ncert_file = \"/etc/mk/cert.pem\"\nkey_file = \"/etc/mk/key.pem\"\nmin_version = \"1.3\"\n\
         [[tls.sni]]\nnames = [\"mail.example.org\", \"*.example.net\"]\n\
         cert_file = \"/etc/mk/b.pem\"\nkey_file = \"/etc/mk/b.key\"\n\
         [imap]\nplaintext_logins = \"never\"\n",
    )
    .expect("load");
    assert_eq!(c.tls.min_version, TlsMinVersion::Tls13);
    assert_eq!(c.tls.sni[0].names.len(), 2);
    assert_eq!(c.imap.plaintext_logins, PlaintextLogins::Never);
    let err = load_text("[tls]\ncert_file = \"/x.pem\"\n")
        .expect_err("no key")
        .to_string();
    assert!(err.contains("together"), "{err}");
    assert!(load_text("[tls]\nmin_version = \"1.1\"\n").is_err());
    assert!(load_text("[[tls.sni]]\nnames = []\ncert_file = \"/a\"\nkey_file = \"/b\"\n").is_err());
}

#[test]
fn special_use_folders_default_to_the_four_and_each_can_be_renamed_or_turned_off() {
    let d = Config::load(None).expect("defaults");
    assert_eq!(
        d.storage.special_use.enabled(),
        [
            ("\\Drafts", "Drafts".to_string()),
            ("\\Sent", "Sent".to_string()),
            ("\\Trash", "Trash".to_string()),
            ("\\Junk", "Junk".to_string()),
        ]
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "[storage.special_use.sent]\nname = \"Sent Messages\"\n\
         [storage.special_use.junk]\nenable = false\n",
    )
    .expect("write");
    let c = Config::load(Some(&path)).expect("load");
    let names: Vec<String> = c
        .storage
        .special_use
        .enabled()
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(names, ["Drafts", "Sent Messages", "Trash"]);
    std::fs::write(&path, "[storage.special_use.sent]\nname = \"Trash\"\n").expect("write");
    let err = Config::load(Some(&path)).expect_err("two uses of one name");
    assert!(err.to_string().contains("Trash"), "{err}");
}

#[test]
fn client_networks_must_be_addresses_or_prefixes() {
    let parse = |networks: &str| {
        let mut c: Config =
            toml::from_str(&format!("[imap]\nexempt_networks = {networks}\n")).expect("toml");
        c.resolve()
    };
    assert!(parse(r#"["127.0.0.1", "192.0.2.0/24", "2001:db8::/32"]"#).is_ok());
    for bad in [r#"["192.0.2.0/33"]"#, r#"["localhost"]"#, r#"["::/129"]"#] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn pop3_defaults_to_loopback_ports_and_can_be_turned_off() {
    let d = Config::load(None).expect("defaults");
    let pop3: Vec<(&str, &str, ListenerKind)> = d
        .pop3
        .listener
        .iter()
        .map(|l| (l.name.as_str(), l.address.as_str(), l.kind))
        .collect();
    assert_eq!(
        pop3,
        vec![
            ("pop3", "127.0.0.1:1110", ListenerKind::Plain),
            ("pop3s", "127.0.0.1:1995", ListenerKind::Tls),
        ]
    );
    assert!(!d.pop3.lock_session);
    assert!(
        d.listeners()
            .iter()
            .any(|(s, l)| *s == "pop3" && l.name == "pop3s")
    );
    let off = load_text("[pop3]\nlistener = []\nlock_session = true\n").expect("off");
    assert!(off.pop3.listener.is_empty());
    assert!(off.pop3.lock_session);
    // Names are unique across services.
    assert!(
        load_text(
            "[[pop3.listener]]\nname = \"imap\"\naddress = \"127.0.0.1:1\"\nkind = \"plain\"\n"
        )
        .is_err()
    );
    assert!(load_text("[pop3]\nprocesses = 0\n").is_err());
}

#[test]
fn the_auth_socket_is_off_by_default_and_takes_unix_listeners_only() {
    let c = load_text("[server]\ndata_dir = \"/srv/mk\"\n").expect("load");
    assert!(c.auth_socket.listener.is_empty());
    let c = load_text(
        "[server]\ndata_dir = \"/srv/mk\"\n\
         [[auth_socket.listener]]\nname = \"auth\"\naddress = \"auth-client.sock\"\n\
         kind = \"unix\"\nmode = 0o600\nowner = \"postfix\"\n",
    )
    .expect("load");
    assert_eq!(
        c.auth_socket.listener[0].address,
        "/srv/mk/auth-client.sock"
    );
    assert_eq!(c.auth_socket.listener[0].mode, Some(0o600));
    assert!(
        c.listeners()
            .iter()
            .any(|(service, l)| *service == "auth-socket" && l.name == "auth")
    );
    let err = load_text(
        "[[auth_socket.listener]]\nname = \"auth\"\naddress = \"127.0.0.1:12345\"\nkind = \"plain\"\n",
    )
    .expect_err("a TCP auth socket")
    .to_string();
    assert!(err.contains("[[auth_socket.listener]]"), "{err}");
    assert!(err.contains("unix listener only"), "{err}");
}

#[test]
fn plugin_tables_pass_through_to_the_storage_process_unchanged() {
    let c = load_text(
        "[plugins]\nenabled = [\"quota\"]\n[plugins.quota]\nstorage = \"1G\"\nadmins = [\"root\"]\n",
    )
    .expect("plugins parse");
    assert_eq!(c.plugins.enabled, vec!["quota".to_owned()]);
    let quota = c.plugins.settings_of("quota");
    assert_eq!(quota.get("storage").and_then(|v| v.as_str()), Some("1G"));
    assert!(c.plugins.settings_of("other").is_empty());
    let back = crate::Plugins::from_toml(&c.plugins.to_toml()).expect("round trip");
    assert_eq!(back, c.plugins);
}

#[test]
fn master_users_are_off_by_default_and_the_separator_is_one_character() {
    let c = load_text("").expect("load");
    assert!(c.auth.master_users.is_empty());
    assert_eq!(c.auth.master_user_separator, "*");
    let c = load_text(
        "[auth]\nmaster_users = [\"admin\", \"support\"]\nmaster_user_separator = \"%\"\n",
    )
    .expect("load");
    assert_eq!(c.auth.master_users, ["admin", "support"]);
    assert_eq!(c.auth.master_user_separator, "%");
    for bad in [
        "[auth]\nmaster_user_separator = \"\"\n",
        "[auth]\nmaster_user_separator = \"**\"\n",
        "[auth]\nmaster_user_separator = \" \"\n",
        "[auth]\nmaster_users = [\"\"]\n",
        "[auth]\nmaster_users = [\"ad*min\"]\n",
    ] {
        let err = load_text(bad).expect_err(bad).to_string();
        assert!(err.contains("auth.master_user"), "{bad}: {err}");
    }
}

#[test]
fn the_kept_warm_time_is_at_most_the_shortest_linger() {
    use std::time::Duration;
    let c = load_text("[storage]\nlinger_min_secs = 8\nkeep_warm_secs = 3\n").expect("config");
    assert_eq!(c.storage.keep_warm(), Duration::from_secs(3));
    // Never longer than the shortest linger, which it is part of.
    let c = load_text("[storage]\nlinger_min_secs = 2\nkeep_warm_secs = 30\n").expect("config");
    assert_eq!(c.storage.keep_warm(), Duration::from_secs(2));
    let c = load_text("[storage]\nkeep_warm_secs = 0\n").expect("config");
    assert_eq!(c.storage.keep_warm(), Duration::ZERO);
    assert_eq!(
        Config::load(None).expect("defaults").storage.keep_warm(),
        Duration::from_secs(5)
    );
}
