//! One link's life in each store: commit a change inserting a token, look it up by its
//! selector, commit the change consuming it. MemoryStore, SqliteStore (a WAL file in a
//! temporary directory) and PostgresStore (schema `admit_bench_store` of
//! `ADMIT_TEST_POSTGRES_URL`, skipped when unset). See docs/benchmarks.md.
//!
//! ```text
//! cargo bench --bench store
//! ```

mod stores;

use std::time::Duration as StdDuration;

use admit::store::Store;
use admit::store::conformance::fixtures::{Fixtures, insert_accounts};
use admit_core::{ChangeSet, Clock, TestClock, TokenConsumption, TokenPurpose, token};
use criterion::{Criterion, criterion_group, criterion_main};
use stores::{Backend, Fresh};

/// Accounts the tokens are spread over, in turn: a real account holds a handful of tokens,
/// and inserting one looks at the account's earlier ones (to revoke those it replaces).
const ACCOUNTS: usize = 20_000;

/// Insert + find + consume of one fresh token of `account`.
async fn cycle(store: &dyn Store, rng: &mut rand::rngs::ThreadRng, account: &admit_core::AccountRecord) {
    let now = TestClock::default_start().now();
    let issued = token::issue(
        rng,
        account.id,
        TokenPurpose::PasswordReset,
        account.credential_epoch,
        now,
        time::Duration::hours(1),
    );
    let selector = issued.record.selector;
    store.commit(ChangeSet { tokens: vec![issued.record], ..ChangeSet::default() }).await.expect("token inserted");
    let found = store.token(&selector).await.expect("lookup works").expect("the token is found");
    assert!(found.consumed_at.is_none());
    let consume = TokenConsumption {
        selector,
        account_id: found.account_id,
        credential_epoch: found.credential_epoch,
        at: now + time::Duration::seconds(1),
    };
    store.commit(ChangeSet { consume: Some(consume), ..ChangeSet::default() }).await.expect("token consumed");
}

fn store_token_cycle(c: &mut Criterion) {
    let rt = stores::runtime();
    let mut group = c.benchmark_group("store_token_cycle");
    group.sample_size(20).warm_up_time(StdDuration::from_secs(1)).measurement_time(StdDuration::from_secs(4));
    for backend in Backend::available(true) {
        let fresh = rt.block_on(Fresh::new(backend, "admit_bench_store"));
        let mut fx = Fixtures::new(8);
        let now = TestClock::default_start().now();
        let accounts: Vec<_> = (0..ACCOUNTS).map(|i| fx.account(&format!("person{i}@example.org"), now)).collect();
        rt.block_on(fresh.store.commit(insert_accounts(accounts.clone()))).expect("accounts inserted");
        let account = &accounts[0];
        let mut rng = rand::rng();
        // Checked once before timing: a consumed token is consumed, and only once.
        rt.block_on(async {
            cycle(fresh.store.as_ref(), &mut rng, account).await;
            let tokens = fresh.store.tokens_of(account.id).await.expect("tokens listed");
            assert!(tokens.len() == 1 && tokens[0].consumed_at.is_some(), "{}: consumed", backend.name());
        });
        let mut next = 0;
        group.bench_function(backend.name(), |b| {
            b.iter(|| {
                next = (next + 1) % ACCOUNTS;
                rt.block_on(cycle(fresh.store.as_ref(), &mut rng, &accounts[next]))
            })
        });
        rt.block_on(fresh.close());
    }
    group.finish();
}

criterion_group!(benches, store_token_cycle);
criterion_main!(benches);
