//! Every store operation, run against the memory store and the DynamoDB server alike: both must
//! give the same answers and the same guarantees under concurrency.

use tollgate::store::{Condition, GSI1PK, GSI1SK, Item, Key, Label, Query, Store, StoreError, Tx, Update, Write};
use tollgate_testkit::{StoreKind, count_successes};

fn key(pk: &str, sk: &str) -> Key {
    Key::new(pk, sk)
}

fn item(pk: &str, sk: &str) -> Item {
    Item::new(&key(pk, sk))
}

async fn get_returns_none_for_a_missing_item(store: Store) {
    assert_eq!(store.get(&key("A", "missing")).await.unwrap(), None);
}

async fn put_and_get_round_trip_every_value_type(store: Store) {
    let it = item("A", "1").with("s", "text").with("n", -42).with("b", true).with("big", i64::MAX);
    store.write(Write::put(it.clone())).await.unwrap();
    assert_eq!(store.get(&key("A", "1")).await.unwrap(), Some(it));
}

async fn get_many_answers_in_order_with_gaps(store: Store) {
    store.write(Write::put(item("M", "1").with("v", 1))).await.unwrap();
    store.write(Write::put(item("N", "2").with("v", 2))).await.unwrap();
    let got = store.get_many(&[key("N", "2"), key("M", "missing"), key("M", "1")]).await.unwrap();
    assert_eq!(got.iter().map(|i| i.as_ref().and_then(|i| i.num("v"))).collect::<Vec<_>>(), [Some(2), None, Some(1)]);
    assert!(store.get_many(&[]).await.unwrap().is_empty());
}

async fn put_new_refuses_an_existing_item(store: Store) {
    store.write(Write::put_new(item("A", "1").with("v", 1))).await.unwrap();
    let err = store.write(Write::put_new(item("A", "1").with("v", 2))).await.unwrap_err();
    assert_eq!(err, StoreError::ConditionFailed);
    assert_eq!(store.get(&key("A", "1")).await.unwrap().unwrap().num("v"), Some(1));
}

async fn plain_put_replaces_the_whole_item(store: Store) {
    store.write(Write::put(item("A", "1").with("old", 1))).await.unwrap();
    store.write(Write::put(item("A", "1").with("new", 2))).await.unwrap();
    let got = store.get(&key("A", "1")).await.unwrap().unwrap();
    assert_eq!(got.num("old"), None);
    assert_eq!(got.num("new"), Some(2));
}

async fn update_creates_a_missing_item_and_returns_it(store: Store) {
    let after = store.update(Update::new(key("A", "1")).set("s", "x").add("n", 3)).await.unwrap();
    assert_eq!(after.str("s"), Some("x"));
    assert_eq!(after.num("n"), Some(3));
    assert_eq!(after.key(), key("A", "1"));
    assert_eq!(store.get(&key("A", "1")).await.unwrap(), Some(after));
}

async fn update_adds_sets_if_absent_and_removes(store: Store) {
    store.write(Write::put(item("A", "1").with("n", 5).with("keep", "first").with("gone", 1))).await.unwrap();
    let after = store
        .update(
            Update::new(key("A", "1"))
                .add("n", -2)
                .set_if_absent("keep", "second")
                .set_if_absent("fresh", "new")
                .remove("gone"),
        )
        .await
        .unwrap();
    assert_eq!(after.num("n"), Some(3));
    assert_eq!(after.str("keep"), Some("first"));
    assert_eq!(after.str("fresh"), Some("new"));
    assert_eq!(after.get("gone"), None);
}

async fn a_failed_update_condition_changes_nothing(store: Store) {
    store.write(Write::put(item("A", "1").with("status", "paid"))).await.unwrap();
    let err = store
        .update(Update::new(key("A", "1")).set("status", "refunded").when(Condition::equals("status", "pending")))
        .await;
    assert_eq!(err.unwrap_err(), StoreError::ConditionFailed);
    assert_eq!(store.get(&key("A", "1")).await.unwrap().unwrap().str("status"), Some("paid"));
    let missing = store.update(Update::new(key("A", "2")).set("x", 1).when(Condition::Exists)).await;
    assert_eq!(missing.unwrap_err(), StoreError::ConditionFailed);
    assert_eq!(store.get(&key("A", "2")).await.unwrap(), None);
}

async fn conditions_evaluate_as_dynamodb_does(store: Store) {
    store.write(Write::put(item("C", "1").with("n", 5).with("s", "a"))).await.unwrap();
    let cases: Vec<(Condition, bool)> = vec![
        (Condition::Exists, true),
        (Condition::NotExists, false),
        (Condition::absent("missing"), true),
        (Condition::absent("n"), false),
        (Condition::equals("s", "a"), true),
        (Condition::equals("s", "b"), false),
        (Condition::AtLeast("n".into(), 5), true),
        (Condition::AtLeast("n".into(), 6), false),
        (Condition::AtLeast("missing".into(), 0), false),
        (Condition::AbsentOrBelow("n".into(), 6), true),
        (Condition::AbsentOrBelow("n".into(), 5), false),
        (Condition::AbsentOrBelow("missing".into(), 0), true),
        (Condition::And(vec![Condition::Exists, Condition::equals("s", "a")]), true),
        (Condition::And(vec![Condition::Exists, Condition::equals("s", "b")]), false),
        (Condition::Or(vec![Condition::equals("s", "b"), Condition::AtLeast("n".into(), 1)]), true),
        (Condition::Not(Box::new(Condition::equals("s", "a"))), false),
        (Condition::And(vec![Condition::AbsentOrBelow("n".into(), 6)]), true),
        (
            Condition::And(vec![
                Condition::Exists,
                Condition::Or(vec![Condition::absent("n"), Condition::AtLeast("n".into(), 5)]),
            ]),
            true,
        ),
        (Condition::Not(Box::new(Condition::And(vec![Condition::Exists, Condition::equals("s", "a")]))), false),
        (Condition::And(vec![]), true),
    ];
    for (i, (condition, expected)) in cases.into_iter().enumerate() {
        let result = store.write(Write::Check { key: key("C", "1"), condition: condition.clone() }).await;
        assert_eq!(result.is_ok(), expected, "case {i}: {condition:?} gave {result:?}");
    }
}

async fn a_condition_check_on_a_missing_item_sees_no_attributes(store: Store) {
    let missing = key("C", "missing");
    let holds = |c: Condition| Write::Check { key: missing.clone(), condition: c };
    assert!(store.write(holds(Condition::And(vec![Condition::AbsentOrBelow("n".into(), 1)]))).await.is_ok());
    assert!(store.write(holds(Condition::AtLeast("n".into(), 1))).await.is_err());
}

async fn delete_removes_and_respects_its_condition(store: Store) {
    store.write(Write::put(item("A", "1").with("v", 1))).await.unwrap();
    let refused = store.write(Write::Delete { key: key("A", "1"), condition: Some(Condition::equals("v", 2)) }).await;
    assert_eq!(refused.unwrap_err(), StoreError::ConditionFailed);
    store.write(Write::Delete { key: key("A", "1"), condition: Some(Condition::Exists) }).await.unwrap();
    assert_eq!(store.get(&key("A", "1")).await.unwrap(), None);
}

async fn a_transaction_applies_all_writes(store: Store) {
    store.write(Write::put(item("T", "del"))).await.unwrap();
    store
        .transact(
            Tx::new()
                .with(Label::Order, Write::put_new(item("T", "a").with("v", 1)))
                .with(Label::Counter, Write::Update(Update::new(key("T", "b")).add("n", 2)))
                .with(Label::Session, Write::Delete { key: key("T", "del"), condition: None }),
        )
        .await
        .unwrap();
    assert!(store.get(&key("T", "a")).await.unwrap().is_some());
    assert_eq!(store.get(&key("T", "b")).await.unwrap().unwrap().num("n"), Some(2));
    assert_eq!(store.get(&key("T", "del")).await.unwrap(), None);
}

async fn a_failed_transaction_applies_nothing_and_labels_the_failed_writes(store: Store) {
    store.write(Write::put(item("T", "exists"))).await.unwrap();
    store.write(Write::put(item("T", "exists too"))).await.unwrap();
    let err = store
        .transact(
            Tx::new()
                .with(Label::Order, Write::put_new(item("T", "a")))
                .with(Label::Counter, Write::Update(Update::new(key("T", "b")).add("n", 1)))
                .with(Label::Event, Write::put_new(item("T", "exists")))
                .with(Label::Grant, Write::put_new(item("T", "exists too"))),
        )
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::Cancelled { failed: vec![Label::Event, Label::Grant] });
    assert!(err.refused(Label::Event) && err.refused(Label::Grant) && !err.refused(Label::Order));
    assert_eq!(store.get(&key("T", "a")).await.unwrap(), None);
    assert_eq!(store.get(&key("T", "b")).await.unwrap(), None);
}

async fn a_condition_check_guards_a_transaction(store: Store) {
    store.write(Write::put(item("T", "guard").with("open", true))).await.unwrap();
    let guarded = |open: bool| {
        Tx::new()
            .with(Label::Plans, Write::Check { key: key("T", "guard"), condition: Condition::equals("open", open) })
            .with(Label::Counter, Write::Update(Update::new(key("T", "counter")).add("n", 1)))
    };
    assert!(store.transact(guarded(false)).await.unwrap_err().refused(Label::Plans));
    store.transact(guarded(true)).await.unwrap();
    assert_eq!(store.get(&key("T", "counter")).await.unwrap().unwrap().num("n"), Some(1));
}

async fn a_transaction_may_touch_an_item_once(store: Store) {
    let err = store
        .transact(Tx::from_iter([
            (Label::Order, Write::put(item("T", "a"))),
            (Label::Counter, Write::Update(Update::new(key("T", "a")).add("n", 1))),
        ]))
        .await;
    assert!(matches!(err, Err(StoreError::Invalid(_))));
}

async fn query_reads_a_prefix_in_order_and_pages(store: Store) {
    for sk in ["E#03", "E#01", "E#02", "E#04", "F#01"] {
        store.write(Write::put(item("Q", sk))).await.unwrap();
    }
    store.write(Write::put(item("Q2", "E#00"))).await.unwrap();
    let sks = |items: &[Item]| items.iter().map(|i| i.key().sk).collect::<Vec<_>>();

    let all = store.query(&Query::prefix("Q", "E#")).await.unwrap();
    assert_eq!(sks(&all.items), ["E#01", "E#02", "E#03", "E#04"]);
    assert_eq!(all.last_sk, None);

    let mut q = Query { limit: 3, newest_first: true, ..Query::prefix("Q", "E#") };
    let first = store.query(&q).await.unwrap();
    assert_eq!(sks(&first.items), ["E#04", "E#03", "E#02"]);
    assert_eq!(first.last_sk.as_deref(), Some("E#02"));
    q.after = first.last_sk;
    let second = store.query(&q).await.unwrap();
    assert_eq!(sks(&second.items), ["E#01"]);
    assert_eq!(second.last_sk, None);

    let exact = store.query(&Query { limit: 4, ..Query::prefix("Q", "E#") }).await.unwrap();
    assert_eq!(exact.items.len(), 4);
    assert_eq!(exact.last_sk, None, "no further page when the prefix ends exactly at the limit");
}

async fn query_all_reads_every_page_in_order(store: Store) {
    for n in 0..7 {
        store.write(Write::put(item("QA", &format!("E#{n:02}")))).await.unwrap();
    }
    let before = store.round_trips();
    let all = store.query_all(&Query { limit: 3, ..Query::prefix("QA", "E#") }).await.unwrap();
    let sks: Vec<String> = all.iter().map(|i| i.key().sk).collect();
    assert_eq!(sks, (0..7).map(|n| format!("E#{n:02}")).collect::<Vec<_>>());
    assert_eq!(store.round_trips() - before, 3, "one call per page of 3");
}

async fn the_index_finds_items_by_gsi1pk(store: Store) {
    store
        .write(Write::put(item("USER#1", "PROFILE").with(GSI1PK, "CUSTOMER#cus_1").with(GSI1SK, "USER")))
        .await
        .unwrap();
    store
        .write(Write::put(item("USER#2", "PROFILE").with(GSI1PK, "CUSTOMER#cus_2").with(GSI1SK, "USER")))
        .await
        .unwrap();
    let found = store.query_index("CUSTOMER#cus_1", 10).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].key(), key("USER#1", "PROFILE"));
    assert!(store.query_index("CUSTOMER#nobody", 10).await.unwrap().is_empty());
    for n in [3, 1, 2] {
        let feed = item(&format!("USER#{n}"), "FEED").with(GSI1PK, "FEED").with(GSI1SK, format!("{n:02}"));
        store.write(Write::put(feed)).await.unwrap();
    }
    let order = |items: Vec<Item>| items.iter().map(|i| i.key().pk).collect::<Vec<_>>();
    assert_eq!(order(store.query_index("FEED", 2).await.unwrap()), ["USER#1", "USER#2"]);
    assert_eq!(order(store.query_index_newest("FEED", 2).await.unwrap()), ["USER#3", "USER#2"]);
}

async fn concurrent_creates_of_one_item_have_one_winner(store: Store) {
    let wins = count_successes(20, |i| {
        let store = store.clone();
        async move { store.write(Write::put_new(item("R", "once").with("winner", i as i64))).await.is_ok() }
    })
    .await;
    assert_eq!(wins, 1);
}

async fn concurrent_capped_increments_stop_at_the_cap(store: Store) {
    let wins = count_successes(30, |_| {
        let store = store.clone();
        let capped = Update::new(key("R", "cap")).add("count", 1).when(Condition::AbsentOrBelow("count".into(), 7));
        async move { store.update(capped).await.is_ok() }
    })
    .await;
    assert_eq!(wins, 7);
    assert_eq!(store.get(&key("R", "cap")).await.unwrap().unwrap().num("count"), Some(7));
}

async fn concurrent_transactions_on_one_balance_never_overdraw(store: Store) {
    store.write(Write::put(item("R", "balance").with("n", 10))).await.unwrap();
    let wins = count_successes(25, |i| {
        let store = store.clone();
        let debit = Update::new(key("R", "balance")).add("n", -1).when(Condition::AtLeast("n".into(), 1));
        let entry = Write::put_new(item("R", &format!("entry#{i:02}")));
        async move {
            store
                .transact(Tx::new().with(Label::Balance, Write::Update(debit)).with(Label::LedgerEntry, entry))
                .await
                .is_ok()
        }
    })
    .await;
    assert_eq!(wins, 10);
    assert_eq!(store.get(&key("R", "balance")).await.unwrap().unwrap().num("n"), Some(0));
    assert_eq!(store.query(&Query::prefix("R", "entry#")).await.unwrap().items.len(), 10);
}

async fn round_trips_are_counted(store: Store) {
    let before = store.round_trips();
    store.get(&key("A", "1")).await.unwrap();
    store
        .transact(Tx::from_iter([
            (Label::Order, Write::put(item("A", "1"))),
            (Label::Order, Write::put(item("A", "2"))),
        ]))
        .await
        .unwrap();
    assert_eq!(store.round_trips() - before, 2);
}

async fn ping_answers(store: Store) {
    store.ping().await.unwrap();
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::StoreKind::Memory.store().await).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(super::StoreKind::DynamoDb.store().await).await;
                }
            )*
        }
    };
}

conformance!(
    get_returns_none_for_a_missing_item,
    put_and_get_round_trip_every_value_type,
    get_many_answers_in_order_with_gaps,
    put_new_refuses_an_existing_item,
    plain_put_replaces_the_whole_item,
    update_creates_a_missing_item_and_returns_it,
    update_adds_sets_if_absent_and_removes,
    a_failed_update_condition_changes_nothing,
    conditions_evaluate_as_dynamodb_does,
    a_condition_check_on_a_missing_item_sees_no_attributes,
    delete_removes_and_respects_its_condition,
    a_transaction_applies_all_writes,
    a_failed_transaction_applies_nothing_and_labels_the_failed_writes,
    a_condition_check_guards_a_transaction,
    a_transaction_may_touch_an_item_once,
    query_reads_a_prefix_in_order_and_pages,
    query_all_reads_every_page_in_order,
    the_index_finds_items_by_gsi1pk,
    concurrent_creates_of_one_item_have_one_winner,
    concurrent_capped_increments_stop_at_the_cap,
    concurrent_transactions_on_one_balance_never_overdraw,
    round_trips_are_counted,
    ping_answers,
);
