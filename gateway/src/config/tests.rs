use super::*;

fn load(text: &str) -> Result<Config, ConfigError> {
    ConfigLoader::new()
        .text(text, Origin::File("ithaca.toml".into()))?
        .build()
}

fn err(text: &str) -> String {
    load(text).unwrap_err().to_string()
}

#[test]
fn default_template_is_the_default_config() {
    assert_eq!(load(DEFAULT_CONFIG_TOML).unwrap(), Config::default());
}

#[test]
fn default_template_documents_every_key() {
    // Every key, optional ones included, appears in the template, set or
    // commented out.
    let mut config = Config::default();
    config.server.tls_cert = Some("c".into());
    config.server.tls_key = Some("k".into());
    config.admin = AdminConfig {
        listen: Some("127.0.0.1:1".parse().unwrap()),
        token: Some("t".into()),
        token_file: Some("f".into()),
        tls_cert: Some("c".into()),
        tls_key: Some("k".into()),
    };
    config.storage.postgres_url = Some("postgres://x".into());
    let toml::Value::Table(all) = toml::Value::try_from(config).unwrap() else {
        panic!("config serializes to a table")
    };
    for (section, keys) in all {
        assert!(
            DEFAULT_CONFIG_TOML.contains(&format!("[{section}]")),
            "section [{section}] missing from the template"
        );
        // An array of tables ([[bank]]) is checked by its first table.
        let keys = match keys {
            toml::Value::Array(tables) => tables.first().cloned().unwrap(),
            table => table,
        };
        for key in keys.as_table().unwrap().keys() {
            let set = format!("\n{key} = ");
            let commented = format!("\n# {key} = ");
            assert!(
                DEFAULT_CONFIG_TOML.contains(&set) || DEFAULT_CONFIG_TOML.contains(&commented),
                "{section}.{key} missing from the template"
            );
        }
    }
}

#[test]
fn empty_file_gives_embedded_defaults() {
    let config = load("").unwrap();
    assert_eq!(config.server.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(config.storage.data_dir, PathBuf::from("./ithaca-data"));
    assert_eq!(config.server.max_body_size, ByteSize(8 << 20));
}

#[test]
fn unknown_keys_are_named() {
    assert_eq!(
        err("[server]\nlisten_on = \"127.0.0.1:1\"\n"),
        "ithaca.toml: server.listen_on: unknown field `listen_on`, expected one of `listen`, `tls_cert`, `tls_key`, `http2`, `keep_alive`, `header_read_timeout`, `request_timeout`, `write_stall_timeout`, `max_body_size`, `max_concurrent_requests`, `max_connections`, `drain_timeout`, `public_url`"
    );
    assert!(err("[servers]\n").starts_with("ithaca.toml: servers: unknown field `servers`"));
}

#[test]
fn wrong_types_are_named() {
    assert_eq!(
        err("[server]\nhttp2 = \"yes\"\n"),
        "ithaca.toml: server.http2: invalid type: string \"yes\", expected a boolean"
    );
    assert_eq!(
        err("[server]\nlisten = \"localhost\"\n"),
        "ithaca.toml: server.listen: invalid socket address syntax"
    );
    assert_eq!(
        err("[server]\nrequest_timeout = 30\n"),
        "ithaca.toml: server.request_timeout: `30` has no unit: write \"30s\" or \"30ms\""
    );
    assert_eq!(
        err("[server]\nmax_body_size = \"8 megs\"\n"),
        "ithaca.toml: server.max_body_size: `8 megs` is not a size: write bytes or a number and a unit, e.g. \"8MiB\""
    );
    assert_eq!(
        err("[log]\nformat = \"xml\"\n"),
        "ithaca.toml: log.format: unknown variant `xml`, expected `json` or `text`"
    );
}

#[test]
fn syntax_errors_give_a_position_on_one_line() {
    let e = err("[server]\nlisten = \n");
    assert!(
        e.starts_with("ithaca.toml: invalid TOML: line 2, column"),
        "{e}"
    );
    assert!(!e.contains('\n'), "{e}");
}

#[test]
fn unreadable_files_are_named() {
    let e = ConfigLoader::new()
        .file(Path::new("/nonexistent/ithaca.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("/nonexistent/ithaca.toml: cannot read: No such file"),
        "{e}"
    );
}

#[test]
fn semantic_rules_name_the_key() {
    assert_eq!(
        err("[server]\ntls_cert = \"c.pem\"\n"),
        "ithaca.toml: server.tls_key: required when server.tls_cert is set"
    );
    assert_eq!(
        err("[server]\nmax_concurrent_requests = 0\n"),
        "ithaca.toml: server.max_concurrent_requests: must be at least 1"
    );
    assert_eq!(
        err("[server]\nrequest_timeout = \"0s\"\n"),
        "ithaca.toml: server.request_timeout: must be longer than zero"
    );
    assert!(
        err("[log]\nfilter = \"=[\"\n").starts_with("ithaca.toml: log.filter: not a valid filter")
    );
}

#[test]
fn wsat_takeover_needs_a_shared_store_and_an_oracle() {
    assert_eq!(
        err("[wsat]\ntakeover = true\nbacks_up = \"a\"\n"),
        "ithaca.toml: wsat.takeover: needs a PostgreSQL wsat.store that the instances share (a SQLite file cannot be shared)"
    );
    let pg = "[wsat]\nstore = \"postgres://ithaca@127.0.0.1/log\"\ninstance = \"b\"\ntakeover = true\nbacks_up = \"a\"\n";
    assert_eq!(
        err(&format!("[membership]\nenabled = false\n{pg}")),
        "ithaca.toml: wsat.oracles: takeover needs a membership oracle: set wsat.oracles (host:port,...) or enable [membership]"
    );
    load(&format!(
        "[membership]\nenabled = false\n{pg}oracles = \"127.0.0.1:7400\"\n"
    ))
    .unwrap();
    // This process's own oracle will do.
    load(pg).unwrap();
}

#[test]
fn admin_beyond_loopback_needs_a_token() {
    let e = err("[server]\nlisten = \"0.0.0.0:8080\"\n");
    assert!(
        e.starts_with(
            "ithaca.toml: server.listen: the admin endpoints would be reachable beyond loopback"
        ),
        "{e}"
    );
    // A separate loopback admin listener makes a public server listener fine.
    load("[server]\nlisten = \"0.0.0.0:8080\"\n[admin]\nlisten = \"127.0.0.1:9090\"\n").unwrap();
    load("[server]\nlisten = \"0.0.0.0:8080\"\n[admin]\ntoken = \"0123456789abcdef\"\n").unwrap();
    assert!(
        err("[admin]\ntoken = \"short\"\n")
            .starts_with("ithaca.toml: admin.token: must be at least 16")
    );
}

#[test]
fn env_overrides_are_typed_and_checked() {
    let vars = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    let config = ConfigLoader::new()
        .env(vars(&[
            ("ITHACA_SERVER__LISTEN", "127.0.0.1:9999"),
            ("ITHACA_SERVER__HTTP2", "false"),
            ("ITHACA_SERVER__MAX_CONCURRENT_REQUESTS", "7"),
            ("ITHACA_ADMIN__TOKEN", "1234567890123456"),
            ("ITHACA_CONFIG", "ignored.toml"),
            ("PATH", "/bin"),
        ]))
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(config.server.listen, "127.0.0.1:9999".parse().unwrap());
    assert!(!config.server.http2);
    assert_eq!(config.server.max_concurrent_requests, 7);
    assert_eq!(config.admin.token.as_deref(), Some("1234567890123456"));

    let e = ConfigLoader::new()
        .env(vars(&[("ITHACA_SERVER__LISTN", "x")]))
        .unwrap()
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "environment variable ITHACA_SERVER__LISTN: server.listn: unknown field `listn`"
        ),
        "{e}"
    );
    let e = ConfigLoader::new()
        .env(vars(&[("ITHACA_SERVER__HTTP2", "maybe")]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "environment variable ITHACA_SERVER__HTTP2: server.http2: `maybe` is not a boolean (true or false)"
    );
    let e = ConfigLoader::new()
        .env(vars(&[("ITHACA_SERVER__LISTEN", "nowhere")]))
        .unwrap()
        .build()
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "environment variable ITHACA_SERVER__LISTEN: server.listen: invalid socket address syntax"
    );
}

#[test]
fn precedence_is_file_then_env_then_flags() {
    let config = ConfigLoader::new()
        .text(
            "[server]\nlisten = \"127.0.0.1:1\"\n[storage]\ndata_dir = \"/from/file\"\n",
            Origin::File("f.toml".into()),
        )
        .unwrap()
        .env([(
            "ITHACA_SERVER__LISTEN".to_string(),
            "127.0.0.1:2".to_string(),
        )])
        .unwrap()
        .cli(&CliOverrides {
            listen: Some("127.0.0.1:3".into()),
            data_dir: None,
            admin_listen: None,
            oracle_peers: None,
        })
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(config.server.listen, "127.0.0.1:3".parse().unwrap());
    assert_eq!(config.storage.data_dir, PathBuf::from("/from/file"));

    let e = ConfigLoader::new()
        .cli(&CliOverrides {
            listen: Some("0.0.0.0:80".into()),
            ..CliOverrides::default()
        })
        .unwrap()
        .build()
        .unwrap_err();
    assert_eq!(e.origin, Origin::Flag("--listen".into()));
    assert_eq!(e.key.as_deref(), Some("server.listen"));
}

#[test]
fn public_url_must_be_a_plain_http_url() {
    let config = load("[server]\npublic_url = \"https://api.example.com/soap\"\n").unwrap();
    assert_eq!(
        config.server.public_url.as_deref(),
        Some("https://api.example.com/soap")
    );
    for bad in [
        "ftp://x",
        "https://",
        "https:///path",
        "http://h/a?b",
        "http://h/\\\"x",
    ] {
        assert_eq!(
            err(&format!("[server]\npublic_url = \"{bad}\"\n")),
            "ithaca.toml: server.public_url: must be an http:// or https:// URL with a host, such as https://api.example.com/soap, without query or fragment",
            "{bad}"
        );
    }
}

#[test]
fn the_embedded_defaults_host_the_whole_story() {
    let config = load("").unwrap();
    let banks: Vec<_> = config
        .bank
        .iter()
        .map(|b| (b.name.as_str(), b.store))
        .collect();
    assert_eq!(
        banks,
        vec![("BankA", BankStore::Sqlite), ("BankB", BankStore::Sqlite)]
    );
    assert!(
        config
            .bank
            .iter()
            .all(|b| b.open_accounts == 3 && b.opening_balance == 100_000)
    );
    assert!(config.wsat.enabled && config.transfer.enabled && config.sector_status.enabled);
    assert!(config.membership.enabled && config.bridge.iiop.enabled);
    assert_eq!(
        config.bridge.iiop_addr(),
        Some("127.0.0.1:2809".parse().unwrap())
    );
    assert!(config.bridge.soap_is_default());
    // Each part can be switched off.
    let off = load(
        "bank = []\n[wsat]\nenabled = false\n[transfer]\nenabled = false\n\
         [sector_status]\nenabled = false\n[membership]\nenabled = false\n\
         [bridge]\nsoap = []\n[bridge.iiop]\nenabled = false\n",
    )
    .unwrap();
    assert!(off.bank.is_empty() && off.bridge.soap.is_empty());
    assert_eq!(off.bridge.iiop_addr(), None);
    // A file's [[bank]] replaces the default banks.
    let one = load("[[bank]]\nname = \"Solo\"\nstore = \"sqlite\"\n").unwrap();
    assert_eq!(one.bank.len(), 1);
    assert_eq!(
        one.bank[0].sqlite_file(std::path::Path::new("/d")),
        PathBuf::from("/d/bank-Solo.sqlite")
    );
}

#[test]
fn bank_stores_are_checked_naming_the_key() {
    let error = err("[[bank]]\nname = \"A\"\n");
    assert!(
        error.contains("bank.database_url") && error.contains("store"),
        "{error}"
    );
    let error =
        err("[[bank]]\nname = \"A\"\nstore = \"sqlite\"\ndatabase_url = \"postgres://x\"\n");
    assert!(
        error.contains("bank.database_url") && error.contains("only for"),
        "{error}"
    );
    let error = err("[[bank]]\nname = \"A\"\nstore = \"mysql\"\n");
    assert!(error.contains("store"), "{error}");
    load("[[bank]]\nname = \"A\"\ndatabase_url = \"postgres://x@h/db\"\n").unwrap();
}
