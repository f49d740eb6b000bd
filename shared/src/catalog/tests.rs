//! The catalog's rules, case by case.

use super::*;

fn resolver(simulated: bool) -> PriceResolver<'static> {
    PriceResolver {
        lookup: &|name| (name == "PRICE_SET").then(|| "price_from_env".to_string()),
        by_lookup_key: &|key| (key == "tollgate:pushed:once").then(|| "price_pushed".to_string()),
        simulated,
    }
}

#[test]
fn built_in_catalog_has_free_and_pro() {
    let c = Catalog::parse(BUILT_IN, "built-in", &resolver(true)).unwrap();
    assert_eq!(c.default_plan().key, "free");
    let pro = c.plan("pro").unwrap();
    assert!(pro.flag("pro"));
    assert_eq!(pro.offer.as_ref().unwrap().mode, CheckoutMode::Payment);
    assert!(!c.default_plan().flag("pro"));
}

#[test]
fn price_env_resolves_from_the_environment() {
    let text = r#"
        [plans.free]
        name = "Free"
        rank = 0
        default = true
        [plans.pro]
        name = "Pro"
        rank = 10
        mode = "payment"
        price_env = "PRICE_SET"
        features = { pro = true, sessions = 50, ai_chat = "unlimited", quizzes = { limit = 2, per = "month" } }
    "#;
    let c = Catalog::parse(text, "t", &resolver(false)).unwrap();
    let pro = c.plan("pro").unwrap();
    assert_eq!(pro.offer.as_ref().unwrap().price, "price_from_env");
    assert_eq!(c.plan_for_price("price_from_env").unwrap().key, "pro");
    assert_eq!(pro.features["sessions"], Feature::Cap(50));
    assert_eq!(pro.features["ai_chat"], Feature::Unlimited(UnlimitedWord::Unlimited));
    assert_eq!(pro.features["quizzes"], Feature::Quota { limit: 2, per: Period::Month });
}

#[test]
fn unresolved_price_names_the_variable() {
    let text = "[plans.free]\nname='F'\nrank=0\ndefault=true\n[plans.pro]\nname='P'\nrank=1\nmode='payment'\nprice_env='NOPE'\n";
    let err = Catalog::parse(text, "t", &resolver(false)).unwrap_err();
    assert_eq!(err, CatalogError::UnresolvedPrice { plan: "pro".into(), variable: "NOPE".into() });
    assert!(err.to_string().contains("NOPE"));
}

#[test]
fn simulated_stripe_fills_unset_prices() {
    let text = "[plans.free]\nname='F'\nrank=0\ndefault=true\n[plans.pro]\nname='P'\nrank=1\nmode='payment'\nprice_env='NOPE'\n";
    let c = Catalog::parse(text, "t", &resolver(true)).unwrap();
    assert_eq!(c.plan("pro").unwrap().offer.as_ref().unwrap().price, "price_sim_pro");
}

#[test]
fn malformed_catalogs_are_refused_with_a_reason() {
    let cases = [
        ("not toml [", "does not parse"),
        ("[plans.a]\nname='A'\nrank=0\nmode='payment'\nprice='p'\n", "exactly one plan"),
        (
            "[plans.a]\nname='A'\nrank=0\ndefault=true\n[plans.b]\nname='B'\nrank=0\nmode='payment'\nprice='p'\n",
            "rank 0",
        ),
        ("[plans.a]\nname='A'\nrank=0\ndefault=true\n[plans.b]\nname='B'\nrank=1\n", "needs a price"),
        ("[plans.a]\nname='A'\nrank=0\ndefault=true\ncolour='red'\n", "does not parse"),
    ];
    for (text, expect) in cases {
        let err = Catalog::parse(text, "t", &resolver(false)).unwrap_err().to_string();
        assert!(err.contains(expect), "{text:?} gave {err}");
    }
}

#[test]
fn packs_resolve_their_price_and_credits() {
    let c = Catalog::parse(BUILT_IN, "built-in", &resolver(true)).unwrap();
    let pack = c.pack("credits_100").unwrap();
    assert_eq!((pack.credits, pack.price.as_str()), (100, "price_sim_credits_100"));
    assert_eq!(c.pack_for_price("price_sim_credits_100").unwrap().key, "credits_100");
    assert!(c.plan("credits_100").is_none());
}

#[test]
fn malformed_packs_are_refused() {
    let base = "[plans.free]\nname='F'\nrank=0\ndefault=true\n";
    let cases = [
        ("[packs.free]\nname='P'\ncredits=5\nprice='p'\n", "share this key"),
        ("[packs.p]\nname='P'\ncredits=0\nprice='p'\n", "at least one credit"),
        ("[packs.p]\nname='P'\ncredits=5\n", "needs a price"),
        ("[packs.p]\nname='P'\ncredits=5\nprice_env='NOPE'\n", "NOPE"),
        ("[packs.p]\nname='P'\ncredits=-1\nprice='p'\n", "does not parse"),
    ];
    for (pack, expect) in cases {
        let err = Catalog::parse(&format!("{base}{pack}"), "t", &resolver(false)).unwrap_err().to_string();
        assert!(err.contains(expect), "{pack:?} gave {err}");
    }
}

#[test]
fn best_of_takes_the_highest_rank() {
    let c = Catalog::parse(BUILT_IN, "built-in", &resolver(true)).unwrap();
    assert_eq!(c.best_of(["free", "pro"]).key, "pro");
    assert_eq!(c.best_of(["gone"]).key, "free");
    assert_eq!(c.best_of([]).key, "free");
}

#[test]
fn subscriptions_are_tiers_by_interval_with_trials_and_members_prices() {
    let c = Catalog::parse(BUILT_IN, "built-in", &resolver(true)).unwrap();
    let basic = c.plan("basic").unwrap();
    assert!(basic.offer.is_none(), "Basic is sold only by subscription");
    let sub = basic.subscription.as_ref().unwrap();
    assert_eq!((sub.trial_days, sub.allow_promotion_codes, sub.billing_address), (14, true, AddressCollection::Auto));
    assert_eq!(sub.prices[&Interval::Year], "price_sim_basic_year");
    let pro = c.plan("pro").unwrap();
    let sub = pro.subscription.as_ref().unwrap();
    assert_eq!((sub.trial_days, sub.billing_address), (30, AddressCollection::Required));
    let members = sub.members.as_ref().unwrap();
    assert_eq!((members.coupon.as_str(), members.per_month), ("tollgate-members-pro-20pct", 3));
    assert_eq!(members.applies_to, vec!["credits_100".to_string()]);
    let (plan, interval) = c.plan_for_subscription_price("price_sim_pro_month").unwrap();
    assert_eq!((plan.key.as_str(), interval), ("pro", Interval::Month));
    assert!(c.plan_for_price("price_sim_pro_month").is_none(), "a recurring price is not a one-time one");
}

#[test]
fn malformed_subscriptions_are_refused() {
    let base = "[plans.free]\nname='F'\nrank=0\ndefault=true\n[plans.s]\nname='S'\nrank=1\n";
    let cases = [
        ("mode='subscription'\nprice='p'\n", "[plans.<key>.subscription]"),
        ("[plans.s.subscription]\ntrial_days=3\n", "a month or year price"),
        ("[plans.s.subscription]\nmonth={ price_env='NOPE' }\n", "NOPE"),
        ("[plans.s.subscription]\nweek={ price='p' }\n", "does not parse"),
        ("[plans.s.subscription]\nmonth={ price='p' }\ntrial_days=9999\n", "730"),
        ("[plans.s.subscription]\nmonth={ price='p' }\nbilling_address='sometimes'\n", "does not parse"),
        (
            "[plans.s.subscription]\nmonth={ price='p' }\n[plans.s.subscription.members]\ncoupon='c'\napplies_to=['gold']\nper_month=1\n",
            "not a one-time plan or pack",
        ),
        (
            "[plans.s.subscription]\nmonth={ price='p' }\n[plans.s.subscription.members]\ncoupon_env='NOPE_C'\napplies_to=['s']\nper_month=1\n",
            "NOPE_C",
        ),
    ];
    for (plan, expect) in cases {
        let err = Catalog::parse(&format!("{base}{plan}"), "t", &resolver(false)).unwrap_err().to_string();
        assert!(err.contains(expect), "{plan:?} gave {err}");
    }
    let free_sub = "[plans.free]\nname='F'\nrank=0\ndefault=true\n[plans.free.subscription]\nmonth={ price='p' }\n";
    assert!(Catalog::parse(free_sub, "t", &resolver(false)).unwrap_err().to_string().contains("free"));
}

const NAMED_BY_AMOUNT: &str = r#"
    currency = "usd"
    tax_behavior = "exclusive"
    [plans.free]
    name = "Free"
    rank = 0
    default = true
    [plans.pushed]
    name = "Pushed"
    rank = 10
    mode = "payment"
    amount = 4900
    currency_options = { eur = 4500 }
    automatic_tax = true
    tax_id_collection = true
"#;

#[test]
fn a_price_named_by_amount_is_found_by_its_lookup_key() {
    let c = Catalog::parse(NAMED_BY_AMOUNT, "t", &resolver(false)).unwrap();
    let plan = c.plan("pushed").unwrap();
    assert_eq!(plan.offer.as_ref().unwrap().price, "price_pushed");
    assert_eq!(plan.tax, Tax { automatic: true, id_collection: true });
    let price = c.price("price_pushed").unwrap();
    assert_eq!(price.lookup_key.as_deref(), Some("tollgate:pushed:once"));
    assert_eq!(price.currencies().collect::<Vec<_>>(), ["usd", "eur"]);
    assert_eq!((price.amount_in("eur"), price.amount_in("gbp")), (Some(4500), None));
    assert_eq!(c.tax_behavior(), TaxBehavior::Exclusive);
    // Not pushed yet: refused, naming the lookup key; simulated: a simulated price.
    let unpushed = NAMED_BY_AMOUNT.replace("[plans.pushed]", "[plans.later]");
    let refused = Catalog::parse(&unpushed, "t", &resolver(false)).unwrap_err();
    assert_eq!(refused, CatalogError::NotPushed { plan: "later".into(), lookup_key: "tollgate:later:once".into() });
    assert!(refused.to_string().contains("tollgate stripe push"));
    let simulated = Catalog::parse(&unpushed, "t", &resolver(true)).unwrap();
    assert_eq!(simulated.plan("later").unwrap().offer.as_ref().unwrap().price, "price_sim_later");
}

#[test]
fn currencies_amounts_and_coupons_are_checked() {
    for (from, to, says) in [
        ("currency = \"usd\"", "currency = \"USD\"", "three lowercase letters"),
        ("{ eur = 4500 }", "{ usd = 4500 }", "not another currency"),
        ("{ eur = 4500 }", "{ euro = 4500 }", "not another currency"),
        ("amount = 4900", "amount = -1", "negative"),
        ("{ eur = 4500 }", "{ eur = -5 }", "negative"),
    ] {
        let text = NAMED_BY_AMOUNT.replace(from, to);
        let e = Catalog::parse(&text, "t", &resolver(true)).unwrap_err().to_string();
        assert!(e.contains(says), "{to}: {e}");
    }
    let only_options = NAMED_BY_AMOUNT.replace("amount = 4900\n", "");
    let e = Catalog::parse(&only_options, "t", &resolver(true)).unwrap_err().to_string();
    assert!(e.contains("currency_options need an amount"), "{e}");
    let c = Catalog::parse(BUILT_IN, "built-in", &resolver(true)).unwrap();
    assert_eq!(
        c.coupons(),
        [CatalogCoupon {
            id: "tollgate-members-pro-20pct".into(),
            name: "Pro members: 20% off".into(),
            percent_off: 20
        }]
    );
    for bad in ["percent_off = 0", "percent_off = 101", "percent_off = 20\ncoupon = \"c\""] {
        let text = BUILT_IN.replace("percent_off = 20", bad);
        assert!(Catalog::parse(&text, "t", &resolver(true)).is_err(), "{bad}");
    }
    // Every price of the shipped catalog is named by amount, in dollars and euros.
    assert_eq!(c.prices().len(), 6);
    assert!(c.prices().iter().all(|p| p.lookup_key.is_some() && p.currency_options.contains_key("eur")));
}
