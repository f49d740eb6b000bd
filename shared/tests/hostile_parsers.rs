//! Hostile input at the shared parsers: arbitrary bytes and strings never panic, and never pass
//! for what they are not.

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use tollgate::catalog::{Catalog, PriceResolver};
use tollgate::store::cursor;
use tollgate::stripe::Event;
use tollgate::stripe::signature::{self, SignatureError};

const SECRET: &str = "whsec_hostile";
const NOW: i64 = 1_768_478_400;

fn header_strategy() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        "t=-?[0-9]{0,22}",
        "v1=[0-9a-f]{0,70}",
        "v0=[0-9a-f]{0,10}",
        "[a-z0-9]{0,4}=[^,]{0,12}",
        "[^,]{0,12}",
    ];
    prop::collection::vec(part, 0..6).prop_map(|parts| parts.join(","))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, rng_seed: RngSeed::Fixed(tollgate_testkit::seed("hostile_parsers")), ..ProptestConfig::default() })]

    #[test]
    fn no_signature_header_panics_or_verifies_without_the_secret(
        body in prop::collection::vec(any::<u8>(), 0..200),
        header in header_strategy(),
        now in any::<i64>(),
        tolerance in any::<i64>(),
    ) {
        let result = signature::verify(&body, Some(&header), &[SECRET], now, tolerance);
        prop_assert!(result.is_err() || header.contains("v1="), "{result:?}");
        if let Ok(t) = result {
            // Only a real signature of this body at `t` passes.
            prop_assert!(header.contains(&signature::header(&body, SECRET, t)[t.to_string().len() + 3..]));
        }
    }

    #[test]
    fn a_signed_body_with_one_byte_changed_never_verifies(
        body in prop::collection::vec(any::<u8>(), 1..200),
        at in 0usize..200,
        flip in 1u8..=255,
    ) {
        let header = signature::header(&body, SECRET, NOW);
        let mut tampered = body.clone();
        let i = at % tampered.len();
        tampered[i] ^= flip;
        prop_assert_eq!(signature::verify(&tampered, Some(&header), &[SECRET], NOW, 300), Err(SignatureError::Mismatch));
    }

    #[test]
    fn no_body_panics_the_event_parser(body in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = Event::parse(&body);
    }

    #[test]
    fn json_shaped_like_an_event_is_parsed_or_refused_without_panic(
        id in "(evt_)?[a-zA-Z0-9_]{0,12}",
        kind in "[a-z._]{0,30}",
        created in any::<i64>(),
        object in prop_oneof![Just("{}".to_string()), Just("[]".to_string()), Just("null".to_string()), "\"[a-z]{0,5}\""],
    ) {
        let body = format!(r#"{{"object":"event","id":"{id}","type":"{kind}","livemode":false,"created":{created},"data":{{"object":{object}}}}}"#);
        if let Ok(event) = Event::parse(body.as_bytes()) {
            let object_is_an_object = event.data.object.get().starts_with('{');
            prop_assert!(event.id.starts_with("evt_") && object_is_an_object);
        }
    }

    #[test]
    fn no_catalog_text_panics_the_catalog_parser(text in "[\\[\\]a-z_.=\"{}0-9 ,\n-]{0,300}") {
        let lookup = |_: &str| Some("price_x".to_string());
        let _ = Catalog::parse(&text, "hostile", &PriceResolver { lookup: &lookup, by_lookup_key: &lookup, simulated: false });
    }

    #[test]
    fn no_cursor_panics_or_leaves_its_list(raw in "\\PC{0,80}", prefix in prop::sample::select(vec!["SES#", "CREDITS#ENTRY#", "BILLING#"])) {
        if let Ok(sk) = cursor::decode(&raw, prefix) {
            prop_assert!(sk.starts_with(prefix) && sk.len() <= 1024);
        }
    }
}

#[test]
fn an_overlong_cursor_is_refused() {
    let long = cursor::encode(&format!("SES#{}", "x".repeat(2000)));
    assert_eq!(cursor::decode(&long, "SES#").unwrap_err().code(), "invalid_cursor");
}
