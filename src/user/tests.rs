use super::*;

#[test]
fn mexico_variants_share_a_key() {
    assert_eq!(phone_key("5215512345678"), phone_key("525512345678"));
    assert_eq!(phone_key("5215512345678"), "525512345678");
}

#[test]
fn brazil_ninth_digit_variants_share_a_key() {
    assert_eq!(phone_key("5511987654321"), phone_key("551187654321"));
    // A landline-looking remainder (first digit 2-5) is not a mobile variant.
    assert_eq!(phone_key("5511923456789"), "5511923456789");
}

#[test]
fn other_numbers_are_their_own_key() {
    for n in ["8613300000001", "14155550100", "5215512345"] {
        assert_eq!(phone_key(n), n);
    }
}

#[test]
fn bsuid_table() {
    let long = format!("US.{}", "7".repeat(128));
    for ok in [
        "US.13491208655302741918",
        "CN.7Hq2Lm90aZ",
        "MX.1",
        long.as_str(),
    ] {
        assert_eq!(bsuid(ok), Ok(ok), "{ok:?}");
    }
    let too_long = format!("US.{}", "7".repeat(129));
    for bad in [
        "us.1349",
        "U.1349",
        "USA.1349",
        "US.",
        "US-1349",
        "US.13 49",
        "US.13.49",
        "US.1349é",
        too_long.as_str(),
        "",
    ] {
        assert_eq!(bsuid(bad), Err(BsuidError::Form), "{bad:?}");
    }
    assert_eq!(
        bsuid("US.ENT.11815799212886844830"),
        Err(BsuidError::Parent)
    );
}

#[test]
fn bsuid_lookalikes_are_told_from_numbers() {
    for like in ["US.1", "us.x", " CN.7Hq", "US.ENT.1"] {
        assert!(looks_like_bsuid(like), "{like:?}");
    }
    for not in ["+86 133 0000 0002", "8613300000001", "U.1", "(44) 20"] {
        assert!(!looks_like_bsuid(not), "{not:?}");
    }
}

#[test]
fn the_same_person_by_either_id() {
    let phone = User::phone("5215512345678");
    let bsuid = User::bsuid("MX.99812736450012");
    let both = User::new(
        Some("525512345678".into()),
        Some("MX.99812736450012".into()),
    )
    .expect("two ids");
    assert!(phone.same_person(&both), "phone variants match");
    assert!(bsuid.same_person(&both));
    assert!(!phone.same_person(&bsuid), "nothing ties these two");
    assert!(!User::bsuid("MX.1").same_person(&User::bsuid("MX.2")));
}

#[test]
fn one_string_names_a_user_and_display_shows_both() {
    let both = User::new(Some("8613300000001".into()), Some("CN.7Hq".into())).expect("ids");
    assert_eq!(both.id(), "8613300000001");
    assert_eq!(both.wire(), Wire::Phone("8613300000001"));
    assert_eq!(both.extra_user_id(), Some("CN.7Hq"));
    assert_eq!(both.to_string(), "8613300000001 (CN.7Hq)");
    let bsuid = User::bsuid("CN.7Hq");
    assert_eq!(bsuid.id(), "CN.7Hq");
    assert_eq!(bsuid.wire(), Wire::UserId("CN.7Hq"));
    assert_eq!(bsuid.extra_user_id(), None);
    assert_eq!(bsuid.to_string(), "CN.7Hq");
    assert_eq!(User::new(None, None), None);
}

#[test]
fn lookup_finds_by_either_id_and_reports_ties() {
    let mut lookup = Lookup::default();
    lookup.insert(&User::phone("5215512345678"), 1);
    lookup.insert(&User::bsuid("MX.2"), 2);
    let tie = User::new(Some("525512345678".into()), Some("MX.2".into())).expect("ids");
    assert_eq!(
        lookup.matches(&tie).iter().copied().collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(lookup.get(&User::bsuid("MX.2")), Some(&2));
    assert!(!lookup.contains(&User::bsuid("MX.3")));
    // The first value filed under an id stays.
    lookup.insert(&User::bsuid("MX.2"), 3);
    assert_eq!(lookup.get(&User::bsuid("MX.2")), Some(&2));
}

#[test]
fn users_from_a_server() {
    assert_eq!(
        from_server(Some("+52 1 55 1234 5678"), Some("MX.9")),
        Ok(User::new(Some("5215512345678".into()), Some("MX.9".into())))
    );
    assert_eq!(
        from_server(None, Some("US.1")),
        Ok(Some(User::bsuid("US.1")))
    );
    assert_eq!(from_server(Some(""), None), Ok(None));
    assert!(
        from_server(Some("12ab"), None)
            .unwrap_err()
            .contains("wa_id \"12ab\"")
    );
    assert!(
        from_server(None, Some("US.1\n::x"))
            .unwrap_err()
            .contains("not a BSUID")
    );
}

/// The owned fast path reads every server spelling as the borrowed one does.
#[test]
fn from_server_owned_agrees_with_from_server() {
    let wa_ids = [
        None,
        Some(""),
        Some("8613300000001"),
        Some("+86 133 0000 0001"),
        Some("5215512345678"),
        Some("0861330000000"),
        Some("1234567"),
        Some("1234567890123456"),
        Some("86133xx"),
    ];
    let user_ids = [
        None,
        Some(""),
        Some("US.13491208655302741918"),
        Some("bad id"),
    ];
    for wa_id in wa_ids {
        for user_id in user_ids {
            let owned = from_server_owned(wa_id.map(str::to_string), user_id.map(str::to_string));
            assert_eq!(owned, from_server(wa_id, user_id), "{wa_id:?} {user_id:?}");
        }
    }
}

/// Two ids in one allocation read back as given, order and equality included.
#[test]
fn a_user_reads_back_its_ids() {
    let both = User::new(Some("8613300000001".into()), Some("CN.1".into())).unwrap();
    assert_eq!(both.phone_digits(), Some("8613300000001"));
    assert_eq!(both.user_id(), Some("CN.1"));
    assert_eq!(both.extra_user_id(), Some("CN.1"));
    assert_eq!(
        format!("{both:?}"),
        r#"User { phone: Some("8613300000001"), user_id: Some("CN.1") }"#
    );
    let phone = User::phone("8613300000001");
    assert_eq!(
        (phone.phone_digits(), phone.user_id()),
        (Some("8613300000001"), None)
    );
    let id = User::bsuid("CN.1");
    assert_eq!(
        (id.phone_digits(), id.user_id(), id.id()),
        (None, Some("CN.1"), "CN.1")
    );
    assert!(
        phone < both && id < phone,
        "ordered as (phone, user_id) options"
    );
    assert_ne!(both, phone);
    assert_eq!(phone.clone().with_user_id(Some("CN.1".into())), both);
    assert_eq!(User::new(None, None), None);
    // A phone and a BSUID that concatenate alike are still different users.
    let a = User::new(Some("12345678".into()), Some("9".into()));
    let b = User::new(Some("123456789".into()), None);
    assert_ne!(a, b);
}
