//! Several accounts of one provider kind in one run: each file names the
//! environment variables of its own credentials (`provider.credentials`).

use crate::harness::*;

/// Two NxCloud accounts, each its own emulator process with its own key.
const SHOP_KEY: &str = "AK-shop-account-5d0e-not-printed";
const SHOP_SECRET: &str = "shop-s3cr3t-DO-NOT-LEAK-81aa";
const SUPPORT_KEY: &str = "AK-support-account-c7f2-not-printed";
const SUPPORT_SECRET: &str = "support-s3cr3t-DO-NOT-LEAK-0b9d";
const SUPPORT_PHONE: &str = "8615800001796";

fn account(key: &str, secret: &str, phone: &str) -> Emulator {
    let state = serde_json::json!({"phones": {phone: {
        "appkey": APPKEY, "blocked": ["8613300000007"], "recent_contacts": ["8613300000001"]
    }}});
    Emulator::start_with_env(
        &state,
        &[],
        &[
            ("NXCLOUD_ACCESS_KEY", key),
            ("NXCLOUD_ACCESS_SECRET", secret),
        ],
    )
}

fn file(ws: &Workspace, name: &str, phone: &str, emu: &Emulator, vars: (&str, &str)) {
    ws.write(
        name,
        &format!(
            "# {name}: its own NxCloud account\nbusiness_phone: \"{phone}\"\nprovider:\n  kind: nxcloud\n  appkey: {APPKEY}\n  base_url: {}\n  credentials:\n    access_key: {}\n    access_secret: {}\nsafety: {{max_unblock_ratio: 1}}\nblocked:\n  - \"8613300000001\"\n",
            emu.base_url(),
            vars.0,
            vars.1
        ),
    );
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [SHOP_KEY, SHOP_SECRET, SUPPORT_KEY, SUPPORT_SECRET] {
        assert!(
            !text.contains(secret),
            "a credential leaked into {what}:\n{text}"
        );
    }
}

fn blocked(emu: &Emulator, phone: &str) -> Vec<String> {
    let state = emu.state();
    let mut users: Vec<String> = state["phones"][phone]["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    users.sort();
    users
}

#[test]
fn two_accounts_of_one_kind_reconcile_in_one_run() {
    let shop = account(SHOP_KEY, SHOP_SECRET, PHONE);
    let support = account(SUPPORT_KEY, SUPPORT_SECRET, SUPPORT_PHONE);
    let ws = Workspace::new();
    let vars_shop = ("NXCLOUD_KEY_SHOP", "NXCLOUD_SECRET_SHOP");
    let vars_support = ("NXCLOUD_KEY_SUPPORT", "NXCLOUD_SECRET_SUPPORT");
    file(&ws, "shop.yaml", PHONE, &shop, vars_shop);
    file(&ws, "support.yaml", SUPPORT_PHONE, &support, vars_support);
    let with_accounts = |args: &[&str]| {
        ws.command(args)
            .env(vars_shop.0, SHOP_KEY)
            .env(vars_shop.1, SHOP_SECRET)
            .env(vars_support.0, SUPPORT_KEY)
            .env(vars_support.1, SUPPORT_SECRET)
            .run()
    };
    let run = with_accounts(&["validate", "."]);
    run.code(0);
    let run = with_accounts(&["apply", ".", "--yes", "-vv", "--report", "report.json"]);
    run.code(0);
    assert_no_secret("apply -vv", &run.all());
    assert_no_secret("the report", &read(&ws.path("report.json")));
    assert_eq!(blocked(&shop, PHONE), ["8613300000001"]);
    assert_eq!(blocked(&support, SUPPORT_PHONE), ["8613300000001"]);
    let run = with_accounts(&["plan", ".", "--detailed-exitcode"]);
    run.code(0);

    // The accounts really differ: each emulator refuses the other's key,
    // and the error names the file's variable.
    file(&ws, "support.yaml", SUPPORT_PHONE, &support, vars_shop);
    let run = with_accounts(&["plan", "support.yaml", "-vv"]);
    run.code(1);
    assert!(
        run.all().contains("check NXCLOUD_KEY_SHOP"),
        "{}",
        run.all()
    );
    assert_no_secret("a refused key", &run.all());
}

#[test]
fn a_missing_variable_is_named_before_any_request() {
    let shop = account(SHOP_KEY, SHOP_SECRET, PHONE);
    let ws = Workspace::new();
    file(
        &ws,
        "shop.yaml",
        PHONE,
        &shop,
        ("NXCLOUD_KEY_SHOP", "NXCLOUD_SECRET_SHOP"),
    );
    // The default variables are set (run() sets them): they are not a
    // fallback for a file that names its own.
    let run = ws
        .command(&["plan", "shop.yaml"])
        .env("NXCLOUD_KEY_SHOP", SHOP_KEY)
        .env("NXCLOUD_ACCESS_KEY", ACCESS_KEY)
        .env("NXCLOUD_ACCESS_SECRET", ACCESS_SECRET)
        .run();
    run.code(1);
    assert!(
        run.all().contains(
            "NXCLOUD_SECRET_SHOP is not set: NxCloud credentials come from the environment, never from the file"
        ),
        "{}",
        run.all()
    );
    assert_eq!(shop.requests(), 0, "nothing is sent");
    assert_no_secret("the error", &run.all());
}

#[test]
fn a_value_that_is_not_a_variable_name_is_an_error_that_does_not_echo_it() {
    let ws = Workspace::new();
    let pasted = "EAAGm0PX4ZCpsBAKZCa-pasted-token";
    ws.write(
        "shop.yaml",
        &format!(
            "business_phone: \"{PHONE}\"\nprovider:\n  kind: cloud-api\n  phone_number_id: \"1065\"\n  base_url: \"http://127.0.0.1:9\"\n  credentials:\n    token: \"{pasted}\"\nblocked: []\n"
        ),
    );
    for args in [
        &["validate", "shop.yaml"][..],
        &["plan", "shop.yaml", "-vv"],
    ] {
        let run = ws.run(args);
        run.code(1);
        assert!(
            run.all().contains(
                "shop.yaml:7:12: provider.credentials.token must be the name of an environment variable"
            ),
            "{}",
            run.all()
        );
        assert!(!run.all().contains("EAAGm0PX4ZCpsBAKZCa"), "{}", run.all());
    }
    let run = ws.run(&["validate", "shop.yaml", "--format", "json"]);
    run.code(1);
    assert!(!run.all().contains("EAAGm0PX4ZCpsBAKZCa"), "{}", run.all());
}

/// Two Cloud API tokens (say, two 360dialog numbers with a key each).
#[test]
fn two_cloud_api_tokens_in_one_run() {
    let tokens = [
        "EAAG-first-account-2c4e-not-printed",
        "EAAG-second-account-9a7b-not-printed",
    ];
    let phones = [PHONE, SUPPORT_PHONE];
    let emulators: Vec<Emulator> = tokens
        .iter()
        .zip(phones)
        .map(|(token, phone)| {
            let state = serde_json::json!({"phones": {phone: {
                "phone_number_id": "1065", "blocked": [], "recent_contacts": ["8613300000001"]
            }}});
            Emulator::start_with_env(&state, &[], &[("WHATSAPP_TOKEN", token)])
        })
        .collect();
    let ws = Workspace::new();
    for (i, (emu, phone)) in emulators.iter().zip(phones).enumerate() {
        ws.write(
            &format!("line{i}.yaml"),
            &format!(
                "business_phone: \"{phone}\"\nprovider:\n  kind: cloud-api\n  phone_number_id: \"1065\"\n  base_url: {}\n  credentials: {{token: WHATSAPP_TOKEN_{i}}}\nblocked:\n  - \"8613300000001\"\n",
                emu.base_url()
            ),
        );
    }
    let run = ws
        .command(&["apply", ".", "--yes", "-vv"])
        .env("WHATSAPP_TOKEN_0", tokens[0])
        .env("WHATSAPP_TOKEN_1", tokens[1])
        .run();
    run.code(0);
    for token in tokens {
        assert!(!run.all().contains(token), "{}", run.all());
    }
    for (emu, phone) in emulators.iter().zip(phones) {
        assert_eq!(blocked(emu, phone), ["8613300000001"]);
    }
    // Swapped, each server refuses the other's token, named by variable.
    let run = ws
        .command(&["plan", "."])
        .env("WHATSAPP_TOKEN_0", tokens[1])
        .env("WHATSAPP_TOKEN_1", tokens[0])
        .run();
    run.code(1);
    assert!(
        run.all().contains("check WHATSAPP_TOKEN_0"),
        "{}",
        run.all()
    );
    assert!(
        run.all().contains("check WHATSAPP_TOKEN_1"),
        "{}",
        run.all()
    );
    for token in tokens {
        assert!(!run.all().contains(token), "{}", run.all());
    }
}
