//! What the deployment sells and how it is set up: the public catalog and the diagnostics.

use std::collections::BTreeMap;

use super::wire;
use crate::catalog::{Catalog, Feature, Period};

wire! {
    /// A price as the catalog names it: its Stripe id and, where the catalog says, what it
    /// charges in its own currency and in the others it is sold in.
    pub struct PriceView {
        pub price: String,
        pub amount: Option<i64>,
        pub currency: String,
        /// The same price in other currencies (currency -> amount).
        pub currency_options: BTreeMap<String, i64>,
    }

    pub struct SubscriptionOfferView {
        /// `month` and/or `year`.
        pub prices: BTreeMap<String, PriceView>,
        pub trial_days: u32,
        pub trial_credits: u64,
        pub allow_promotion_codes: bool,
    }

    /// What a plan gives for one feature: a flag, a cap on stored records, `unlimited`, or a
    /// quota per `day` or `month`.
    #[serde(untagged)]
    pub enum FeatureGrant {
        Flag(bool),
        Cap(u64),
        Unlimited(String),
        Quota { limit: u64, per: String },
    }

    pub struct PlanView {
        pub key: String,
        pub name: String,
        /// The highest-ranked plan a user holds is theirs.
        pub rank: i64,
        /// The plan of a user who holds none.
        pub default: bool,
        /// Sold once (for life), where it is.
        pub once: Option<PriceView>,
        /// Sold by subscription, where it is.
        pub subscription: Option<SubscriptionOfferView>,
        /// Credits granted each paid billing period.
        pub credits_per_period: Option<u64>,
        pub features: BTreeMap<String, FeatureGrant>,
    }

    pub struct PackView {
        pub key: String,
        pub name: String,
        pub credits: u64,
        pub price: PriceView,
    }

    /// What the deployment sells, in rank order, every price as resolved at start.
    pub struct CatalogView {
        pub currency: String,
        pub plans: Vec<PlanView>,
        pub packs: Vec<PackView>,
    }

    pub struct StoreProbe {
        pub kind: String,
        pub table: Option<String>,
        pub ok: bool,
        pub error: Option<String>,
        pub latency_ms: u64,
    }

    pub struct StripeProbe {
        /// `simulated`, `test` or `live`.
        pub mode: String,
        pub key_present: bool,
        pub reachable: bool,
        pub error: Option<String>,
        pub latency_ms: u64,
        pub api_version: String,
        pub payment_link_fallback: bool,
    }

    pub struct WebhookSetup {
        /// How many signing secrets are accepted (never their values).
        pub secrets: u64,
        pub tolerance_secs: i64,
        pub unsigned_allowed: bool,
        pub livemode: bool,
    }

    pub struct TokenSetup {
        pub issuer: String,
        pub audience: String,
        pub lifetime_hours: i64,
    }

    pub struct EmailSetup {
        /// `console` or `ses`.
        pub sender: String,
        pub from: Option<String>,
    }

    /// Whether each part is configured and answering; never a secret's value.
    pub struct Diagnostics {
        /// The store and Stripe both answer.
        pub ok: bool,
        pub version: String,
        pub environment: String,
        pub store: StoreProbe,
        pub stripe: StripeProbe,
        pub webhook: WebhookSetup,
        pub tokens: TokenSetup,
        pub email: EmailSetup,
        /// How many administrators `ADMIN_EMAILS` names.
        pub admins: u64,
        pub catalog: CatalogView,
    }
}

fn price_view(catalog: &Catalog, id: &str) -> PriceView {
    match catalog.price(id) {
        Some(p) => PriceView {
            price: p.id.clone(),
            amount: p.amount,
            currency: p.currency.clone(),
            currency_options: p.currency_options.clone(),
        },
        None => PriceView {
            price: id.to_string(),
            amount: None,
            currency: catalog.currency().to_string(),
            currency_options: BTreeMap::new(),
        },
    }
}

fn feature_grant(feature: &Feature) -> FeatureGrant {
    match feature {
        Feature::Flag(on) => FeatureGrant::Flag(*on),
        Feature::Cap(n) => FeatureGrant::Cap(*n),
        Feature::Unlimited(_) => FeatureGrant::Unlimited("unlimited".into()),
        Feature::Quota { limit, per } => FeatureGrant::Quota {
            limit: *limit,
            per: match per {
                Period::Day => "day".into(),
                Period::Month => "month".into(),
            },
        },
    }
}

impl From<&Catalog> for CatalogView {
    fn from(catalog: &Catalog) -> Self {
        let mut plans: Vec<PlanView> = catalog
            .plans()
            .iter()
            .map(|p| PlanView {
                key: p.key.clone(),
                name: p.name.clone(),
                rank: p.rank,
                default: p.is_default,
                once: p.offer.as_ref().map(|o| price_view(catalog, &o.price)),
                subscription: p.subscription.as_ref().map(|s| SubscriptionOfferView {
                    prices: s.prices.iter().map(|(i, id)| (i.as_str().to_string(), price_view(catalog, id))).collect(),
                    trial_days: s.trial_days,
                    trial_credits: s.trial_credits,
                    allow_promotion_codes: s.allow_promotion_codes,
                }),
                credits_per_period: p.credits_per_period,
                features: p.features.iter().map(|(name, f)| (name.clone(), feature_grant(f))).collect(),
            })
            .collect();
        plans.sort_by_key(|p| p.rank);
        let packs = catalog
            .packs()
            .iter()
            .map(|p| PackView {
                key: p.key.clone(),
                name: p.name.clone(),
                credits: p.credits,
                price: price_view(catalog, &p.price),
            })
            .collect();
        CatalogView { currency: catalog.currency().to_string(), plans, packs }
    }
}
