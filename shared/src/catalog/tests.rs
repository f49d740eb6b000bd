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
    assert_eq!((members.coupon.as_str(), members.per_month), ("coupon_sim_pro", 3));
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
