//! `tollgate stripe push`: makes Stripe hold what `catalog.toml` sells. Products (`tollgate_<key>`),
//! the prices named by amount (under their lookup keys), the members' coupons push keeps and a
//! customer portal configuration that offers the subscription plans. A plan is worked out first
//! (what would change), then applied; a second push finds nothing to do. Prices are never edited:
//! a changed amount is a new price that takes the lookup key over, and the old one is archived
//! (subscriptions on it go on until they change plan).

use std::collections::BTreeMap;

use serde::Deserialize;
use sha2::Digest;

use super::client::{StripeClient, StripeError};
use super::events::List;
use super::prices::{StripePrice, differences, with_query};
use crate::catalog::{Catalog, CatalogCoupon, CatalogPrice, Interval, TaxBehavior};

/// The product Tollgate keeps for a plan or pack.
pub fn product_id(item: &str) -> String {
    format!("tollgate_{item}")
}

/// One change push makes.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    CreateProduct {
        id: String,
        name: String,
    },
    UpdateProduct {
        id: String,
        name: String,
    },
    /// A new price under the lookup key; `replaces` is archived once it exists.
    CreatePrice {
        price: CatalogPrice,
        replaces: Option<(String, Vec<String>)>,
    },
    CreateCoupon(CatalogCoupon),
    /// The portal configuration Tollgate keeps (`metadata[tollgate]=portal`), made or updated.
    Portal {
        existing: Option<String>,
    },
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::CreateProduct { id, name } => write!(f, "+ product {id} {name:?}"),
            Step::UpdateProduct { id, name } => write!(f, "~ product {id}: name {name:?}, active"),
            Step::CreatePrice { price, replaces } => {
                let every = price.interval.map_or(String::new(), |i| format!(" every {}", i.as_str()));
                let options: Vec<String> = price.currency_options.iter().map(|(c, a)| format!("{a} {c}")).collect();
                let also = if options.is_empty() { String::new() } else { format!(" (also {})", options.join(", ")) };
                let key = price.lookup_key.as_deref().unwrap_or_default();
                let amount = price.amount.unwrap_or_default();
                write!(f, "+ price {key}: {amount} {}{every}{also}", price.currency)?;
                if let Some((old, why)) = replaces {
                    write!(f, "\n    replaces {old} ({}), which is archived", why.join("; "))?;
                }
                Ok(())
            }
            Step::CreateCoupon(c) => write!(f, "+ coupon {}: {}% off once ({:?})", c.id, c.percent_off, c.name),
            Step::Portal { existing: None } => write!(f, "+ customer portal configuration"),
            Step::Portal { existing: Some(id) } => write!(f, "~ customer portal configuration {id}"),
        }
    }
}

/// What push would change, worked out from Stripe's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Prices found as the catalog says, by lookup key: their ids.
    kept: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Product {
    id: String,
    name: String,
    #[serde(default)]
    active: bool,
}

#[derive(Deserialize)]
struct PortalConfiguration {
    id: String,
    #[serde(default)]
    metadata: Option<BTreeMap<String, String>>,
}

fn pushed(catalog: &Catalog) -> Vec<&CatalogPrice> {
    catalog.prices().iter().filter(|p| p.lookup_key.is_some()).collect()
}

/// The products of the items that have a price push keeps: (id, name).
fn products(catalog: &Catalog) -> BTreeMap<String, String> {
    pushed(catalog).iter().map(|p| (product_id(&p.item), p.item_name.clone())).collect()
}

/// Works out what push would change.
pub async fn plan(client: &StripeClient, catalog: &Catalog, return_url: Option<&str>) -> Result<Plan, StripeError> {
    let mut steps = Vec::new();
    let wanted = products(catalog);
    if !wanted.is_empty() {
        let mut query = vec![("limit".to_string(), "100".to_string())];
        query.extend(wanted.keys().enumerate().map(|(i, id)| (format!("ids[{i}]"), id.clone())));
        let list: Option<List<Product>> =
            client.call(super::client::Method::GET, &with_query("/v1/products", &query), None, None).await?;
        let found = list.map(|l| l.data).unwrap_or_default();
        for (id, name) in &wanted {
            match found.iter().find(|p| &p.id == id) {
                None => steps.push(Step::CreateProduct { id: id.clone(), name: name.clone() }),
                Some(p) if &p.name != name || !p.active => {
                    steps.push(Step::UpdateProduct { id: id.clone(), name: name.clone() })
                }
                Some(_) => {}
            }
        }
    }
    let prices = pushed(catalog);
    let keys: Vec<String> = prices.iter().filter_map(|p| p.lookup_key.clone()).collect();
    let found = client.prices_by_lookup_keys(&keys).await?;
    let mut kept = BTreeMap::new();
    for price in prices {
        let key = price.lookup_key.clone().unwrap_or_default();
        let have: Option<&StripePrice> = found.iter().find(|p| p.lookup_key.as_ref() == Some(&key));
        match have.map(|h| (h, differences(price, h, Some(catalog.tax_behavior())))) {
            Some((h, why)) if why.is_empty() => {
                kept.insert(key, h.id.clone());
            }
            Some((h, why)) => {
                steps.push(Step::CreatePrice { price: price.clone(), replaces: Some((h.id.clone(), why)) })
            }
            None => steps.push(Step::CreatePrice { price: price.clone(), replaces: None }),
        }
    }
    for coupon in catalog.coupons() {
        let path = format!("/v1/coupons/{}", coupon.id);
        if client.call::<serde_json::Value>(super::client::Method::GET, &path, None, None).await?.is_none() {
            steps.push(Step::CreateCoupon(coupon));
        }
    }
    let existing = portal_configuration(client).await?;
    let prices_change = steps.iter().any(|s| matches!(s, Step::CreatePrice { .. }));
    let form = portal_form(catalog, &kept, return_url);
    let same = existing.as_ref().is_some_and(|(_, print)| *print == fingerprint(&form));
    if prices_change || !same {
        steps.push(Step::Portal { existing: existing.map(|(id, _)| id) });
    }
    Ok(Plan { steps, kept })
}

/// The configuration push keeps, and the fingerprint of the form it was last given.
async fn portal_configuration(client: &StripeClient) -> Result<Option<(String, String)>, StripeError> {
    let path = "/v1/billing_portal/configurations?active=true&limit=100";
    let list: Option<List<PortalConfiguration>> = client.call(super::client::Method::GET, path, None, None).await?;
    Ok(list.into_iter().flat_map(|l| l.data).find_map(|c| {
        let metadata = c.metadata.unwrap_or_default();
        (metadata.get("tollgate").map(String::as_str) == Some("portal"))
            .then(|| (c.id, metadata.get("tollgate_fingerprint").cloned().unwrap_or_default()))
    }))
}

/// The id of the portal configuration push keeps; None when there is none (the portal session
/// then uses the account's default).
pub(super) async fn kept_configuration(client: &StripeClient) -> Result<Option<String>, StripeError> {
    Ok(portal_configuration(client).await?.map(|(id, _)| id))
}

fn fingerprint(form: &[(String, String)]) -> String {
    let mut hash = sha2::Sha256::new();
    for (k, v) in form {
        hash.update(k.as_bytes());
        hash.update(b"=");
        hash.update(v.as_bytes());
        hash.update(b"\n");
    }
    hex::encode(&hash.finalize()[..8])
}

/// `POST /v1/prices` for a price push keeps.
pub fn price_form(price: &CatalogPrice, tax: TaxBehavior) -> Vec<(String, String)> {
    let mut form = vec![
        ("product".to_string(), product_id(&price.item)),
        ("currency".to_string(), price.currency.clone()),
        ("unit_amount".to_string(), price.amount.unwrap_or_default().to_string()),
        ("lookup_key".to_string(), price.lookup_key.clone().unwrap_or_default()),
        ("transfer_lookup_key".to_string(), "true".to_string()),
        ("metadata[tollgate_item]".to_string(), price.item.clone()),
    ];
    let nickname = match price.interval {
        Some(Interval::Month) => format!("{}, monthly", price.item_name),
        Some(Interval::Year) => format!("{}, yearly", price.item_name),
        None => price.item_name.clone(),
    };
    form.push(("nickname".to_string(), nickname));
    if let Some(interval) = price.interval {
        form.push(("recurring[interval]".to_string(), interval.as_str().to_string()));
    }
    if tax != TaxBehavior::Unspecified {
        form.push(("tax_behavior".to_string(), tax.as_str().to_string()));
    }
    for (currency, amount) in &price.currency_options {
        form.push((format!("currency_options[{currency}][unit_amount]"), amount.to_string()));
        if tax != TaxBehavior::Unspecified {
            form.push((format!("currency_options[{currency}][tax_behavior]"), tax.as_str().to_string()));
        }
    }
    form
}

/// `POST /v1/coupons` for a members' coupon push keeps.
pub fn coupon_form(coupon: &CatalogCoupon) -> Vec<(String, String)> {
    vec![
        ("id".to_string(), coupon.id.clone()),
        ("name".to_string(), coupon.name.clone()),
        ("percent_off".to_string(), coupon.percent_off.to_string()),
        ("duration".to_string(), "once".to_string()),
    ]
}

/// `POST /v1/billing_portal/configurations[/{id}]`: invoices, payment methods, the customer's
/// details, cancelling at the period's end, and switching between the subscription plans whose
/// prices push keeps (prorated now, a cheaper plan or shorter interval at the period's end, as
/// `POST /api/billing/change` does). `ids`: the prices' ids by lookup key.
pub fn portal_form(
    catalog: &Catalog,
    ids: &BTreeMap<String, String>,
    return_url: Option<&str>,
) -> Vec<(String, String)> {
    let field = |k: &str, v: &str| (k.to_string(), v.to_string());
    let mut form = vec![
        field("business_profile[headline]", "Manage your subscription"),
        field("features[invoice_history][enabled]", "true"),
        field("features[payment_method_update][enabled]", "true"),
        field("features[customer_update][enabled]", "true"),
        field("features[customer_update][allowed_updates][0]", "email"),
        field("features[customer_update][allowed_updates][1]", "address"),
        field("features[customer_update][allowed_updates][2]", "tax_id"),
        field("features[subscription_cancel][enabled]", "true"),
        field("features[subscription_cancel][mode]", "at_period_end"),
    ];
    let offered: Vec<(String, Vec<String>)> = catalog
        .plans()
        .iter()
        .filter_map(|plan| {
            let sub = plan.subscription.as_ref()?;
            let keys = sub.prices.keys().map(|i| crate::catalog::lookup_key(&plan.key, Some(*i)));
            let prices: Option<Vec<String>> = keys.map(|k| ids.get(&k).cloned()).collect();
            Some((product_id(&plan.key), prices?))
        })
        .collect();
    form.push(field("features[subscription_update][enabled]", if offered.is_empty() { "false" } else { "true" }));
    form.push(field("features[subscription_update][default_allowed_updates][0]", "price"));
    form.push(field("features[subscription_update][default_allowed_updates][1]", "promotion_code"));
    form.push(field("features[subscription_update][proration_behavior]", "always_invoice"));
    for (i, (product, prices)) in offered.iter().enumerate() {
        form.push((format!("features[subscription_update][products][{i}][product]"), product.clone()));
        for (j, price) in prices.iter().enumerate() {
            form.push((format!("features[subscription_update][products][{i}][prices][{j}]"), price.clone()));
        }
    }
    if offered.is_empty() {
        form.push(field("features[subscription_update][products]", ""));
    }
    form.push(field(
        "features[subscription_update][schedule_at_period_end][conditions][0][type]",
        "decreasing_item_amount",
    ));
    form.push(field(
        "features[subscription_update][schedule_at_period_end][conditions][1][type]",
        "shortening_interval",
    ));
    if let Some(url) = return_url {
        form.push(field("default_return_url", url));
    }
    form.push(field("metadata[tollgate]", "portal"));
    form
}

/// Carries a plan out, in order (products before their prices, prices before the portal that
/// offers them), each create under an idempotency key derived from what it makes, so a push
/// retried after a failure makes nothing twice. Returns what it did, a line per change.
pub async fn apply(
    client: &StripeClient,
    catalog: &Catalog,
    plan: Plan,
    return_url: Option<&str>,
) -> Result<Vec<String>, StripeError> {
    let mut done = Vec::new();
    let mut ids = plan.kept.clone();
    let empty = || StripeError::BadResponse("empty answer".into());
    for step in plan.steps {
        match &step {
            Step::CreateProduct { id, name } => {
                let form = vec![
                    ("id".to_string(), id.clone()),
                    ("name".to_string(), name.clone()),
                    ("metadata[tollgate]".to_string(), "catalog".to_string()),
                ];
                let key = format!("push-product-{id}");
                client
                    .call::<serde_json::Value>(super::client::Method::POST, "/v1/products", Some(&form), Some(&key))
                    .await?;
            }
            Step::UpdateProduct { id, name } => {
                let form = vec![("name".to_string(), name.clone()), ("active".to_string(), "true".to_string())];
                let key = format!("push-product-{id}-{}", fingerprint(&form));
                let path = format!("/v1/products/{id}");
                client.call::<serde_json::Value>(super::client::Method::POST, &path, Some(&form), Some(&key)).await?;
            }
            Step::CreatePrice { price, replaces } => {
                let form = price_form(price, catalog.tax_behavior());
                let old = replaces.as_ref().map_or("new", |(id, _)| id.as_str());
                let key = format!("push-price-{}-{old}", fingerprint(&form));
                let made: StripePrice = client
                    .call(super::client::Method::POST, "/v1/prices", Some(&form), Some(&key))
                    .await?
                    .ok_or_else(empty)?;
                ids.insert(price.lookup_key.clone().unwrap_or_default(), made.id);
                if let Some((old, _)) = replaces {
                    let form = vec![("active".to_string(), "false".to_string())];
                    let path = format!("/v1/prices/{old}");
                    let key = format!("push-archive-{old}");
                    client
                        .call::<serde_json::Value>(super::client::Method::POST, &path, Some(&form), Some(&key))
                        .await?;
                }
            }
            Step::CreateCoupon(coupon) => {
                let key = format!("push-coupon-{}", coupon.id);
                let form = coupon_form(coupon);
                client
                    .call::<serde_json::Value>(super::client::Method::POST, "/v1/coupons", Some(&form), Some(&key))
                    .await?;
            }
            Step::Portal { existing } => {
                let mut form = portal_form(catalog, &ids, return_url);
                form.push(("metadata[tollgate_fingerprint]".to_string(), fingerprint(&form)));
                let key = format!("push-portal-{}", fingerprint(&form));
                let path = match existing {
                    Some(id) => format!("/v1/billing_portal/configurations/{id}"),
                    None => "/v1/billing_portal/configurations".to_string(),
                };
                client.call::<serde_json::Value>(super::client::Method::POST, &path, Some(&form), Some(&key)).await?;
            }
        }
        done.push(step.to_string());
    }
    Ok(done)
}
