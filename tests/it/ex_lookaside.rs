//! The DDK's lookaside lists (book l.844–848): recycled blocks keep their
//! bytes, exact counters, failures only on misses, the depth, the IRQL
//! limits and wrong-size frees as bug checks, and two processors sharing a
//! list without losing a block.

use std::sync::Arc;

use crate::support::bug_check_of;
use wdmsim::Machine;
use wdmsim::ddk::*;

/// 'Look' in memory order, as C's `'kooL'`.
const TAG: u32 = u32::from_le_bytes(*b"Look");

const SIZE: usize = 16;

const SEEDS: std::ops::Range<u64> = 0..6;

#[test]
fn a_recycled_block_comes_back_with_the_bytes_it_was_freed_with() {
    for seed in SEEDS {
        let run = Machine::sim().processors(2).seed(seed).run(|| {
            let list = ex_initialize_npaged_lookaside_list(SIZE, TAG, 0);
            let mut block = ex_allocate_from_npaged_lookaside_list(&list).expect("pool has room");
            block.copy_from_slice(b"left by the last");
            ex_free_to_npaged_lookaside_list(&list, block);
            // Not zeroed: the next user sees the last one's data.
            let again = ex_allocate_from_npaged_lookaside_list(&list).expect("a kept block");
            let nonpaged = again.clone();
            ex_free_to_npaged_lookaside_list(&list, again);
            ex_delete_npaged_lookaside_list(list);

            let list = ex_initialize_paged_lookaside_list(SIZE, TAG, 0);
            let mut block = ex_allocate_from_paged_lookaside_list(&list).expect("pool has room");
            block.copy_from_slice(b"paged, also kept");
            ex_free_to_paged_lookaside_list(&list, block);
            let paged = ex_allocate_from_paged_lookaside_list(&list).expect("a kept block");
            ex_delete_paged_lookaside_list(list);
            (nonpaged, paged)
        });
        let (nonpaged, paged) = run.value();
        assert_eq!(nonpaged, b"left by the last");
        assert_eq!(paged, b"paged, also kept");
    }
}

#[test]
fn the_counters_count_every_allocate_free_and_miss() {
    for seed in SEEDS {
        let run = Machine::sim().processors(2).seed(seed).run(|| {
            let list = ex_initialize_npaged_lookaside_list(SIZE, TAG, 2);
            let blocks: Vec<_> = (0..3)
                .map(|_| ex_allocate_from_npaged_lookaside_list(&list).expect("pool has room"))
                .collect();
            let after_allocates = list.counts();
            for block in blocks {
                ex_free_to_npaged_lookaside_list(&list, block);
            }
            let after_frees = list.counts();
            // Two kept blocks are hits, the third a miss.
            let again: Vec<_> = (0..3)
                .map(|_| ex_allocate_from_npaged_lookaside_list(&list).expect("pool has room"))
                .collect();
            (after_allocates, after_frees, list.counts(), again.len())
        });
        let (after_allocates, after_frees, last, again) = run.value();
        let counts = |total_allocates, allocate_misses, total_frees, free_misses| LookasideCounts {
            total_allocates,
            allocate_misses,
            total_frees,
            free_misses,
        };
        assert_eq!(after_allocates, counts(3, 3, 0, 0));
        assert_eq!(after_frees, counts(3, 3, 3, 1), "the third free is beyond depth 2");
        assert_eq!(last, counts(6, 4, 3, 1));
        assert_eq!(again, 3);
    }
}

#[test]
fn injected_failures_fail_misses_and_never_hits() {
    for seed in SEEDS {
        let run = Machine::sim().processors(2).seed(seed).run(|| {
            let list = ex_initialize_paged_lookaside_list(SIZE, TAG, 0);
            let block = ex_allocate_from_paged_lookaside_list(&list).expect("pool has room");
            ex_free_to_paged_lookaside_list(&list, block);
            wdmsim::ex::fail_next_allocations(1);
            let hit = ex_allocate_from_paged_lookaside_list(&list);
            let failed_miss = ex_allocate_from_paged_lookaside_list(&list);
            let miss = ex_allocate_from_paged_lookaside_list(&list);
            (hit.is_some(), failed_miss.is_none(), miss.is_some(), list.counts())
        });
        let (hit, failed_miss, miss, counts) = run.value();
        assert!(hit, "the kept block is handed out; the failure stays pending");
        assert!(failed_miss, "the next trip to the pool takes the injected failure");
        assert!(miss, "one failure only");
        assert_eq!((counts.total_allocates, counts.allocate_misses), (4, 3));
    }
}

/// Allocates `held` blocks, frees them all and returns the FreeMisses.
fn free_misses_after_freeing(list: &NPagedLookasideList, held: usize) -> u64 {
    let blocks: Vec<_> = (0..held)
        .map(|_| ex_allocate_from_npaged_lookaside_list(list).expect("pool has room"))
        .collect();
    for block in blocks {
        ex_free_to_npaged_lookaside_list(list, block);
    }
    list.counts().free_misses
}

#[test]
fn a_list_keeps_at_most_its_depth_and_depth_zero_is_nts_four() {
    for seed in SEEDS {
        let run = Machine::sim().processors(2).seed(seed).run(|| {
            let mut seen = Vec::new();
            for (depth, held) in [(0, 6), (1, 3), (5, 5)] {
                let list = ex_initialize_npaged_lookaside_list(SIZE, TAG, depth);
                seen.push((list.depth(), free_misses_after_freeing(&list, held)));
                ex_delete_npaged_lookaside_list(list);
            }
            let deep = ex_initialize_npaged_lookaside_list(SIZE, TAG, u16::MAX);
            seen.push((deep.depth(), 0));
            seen
        });
        assert_eq!(run.value(), [(4, 2), (1, 2), (5, 0), (256, 0)]);
    }
}

#[test]
fn a_nonpaged_list_serves_dispatch_level_hits_and_misses() {
    let run = Machine::sim().processors(2).run(|| {
        let list = ex_initialize_npaged_lookaside_list(SIZE, TAG, 0);
        let old = ke_raise_irql(DISPATCH_LEVEL);
        let first = ex_allocate_from_npaged_lookaside_list(&list).expect("a miss, from the pool");
        ex_free_to_npaged_lookaside_list(&list, first);
        let second = ex_allocate_from_npaged_lookaside_list(&list).expect("a hit");
        ex_free_to_npaged_lookaside_list(&list, second);
        ke_lower_irql(old);
        list.counts()
    });
    let counts = run.value();
    assert_eq!((counts.total_allocates, counts.allocate_misses, counts.total_frees), (2, 1, 2));
}

#[test]
fn deleting_a_list_leaves_the_blocks_still_out_valid() {
    let run = Machine::sim().processors(2).run(|| {
        let list = ex_initialize_npaged_lookaside_list(SIZE, TAG, 0);
        let mut out = ex_allocate_from_npaged_lookaside_list(&list).expect("pool has room");
        let kept = ex_allocate_from_npaged_lookaside_list(&list).expect("pool has room");
        ex_free_to_npaged_lookaside_list(&list, kept);
        ex_delete_npaged_lookaside_list(list);
        // Ordinary pool: the driver still owns it and frees it itself.
        out.fill(7);
        out.iter().map(|&b| u32::from(b)).sum::<u32>()
    });
    assert_eq!(run.value(), 7 * SIZE as u32);
}

#[test]
fn freeing_a_block_of_the_wrong_size_is_bug_check_0xc4_0x16() {
    let shrunk = Machine::sim().run(|| {
        let list = ex_initialize_npaged_lookaside_list(SIZE, TAG, 0);
        let mut block = ex_allocate_from_npaged_lookaside_list(&list).expect("pool has room");
        block.truncate(8);
        ex_free_to_npaged_lookaside_list(&list, block);
    });
    let check = bug_check_of(&shrunk);
    assert_eq!((check.code, check.params[0]), (0xC4, 0x16));
    assert_eq!(check.params[2..], [8, SIZE as u64]);
    assert!(check.message.contains("'Look'"), "{}", check.message);

    let foreign = Machine::sim().run(|| {
        let list = ex_initialize_paged_lookaside_list(SIZE, TAG, 0);
        let block = ex_allocate_pool(PoolType::PagedPool, 32).expect("pool has room");
        ex_free_to_paged_lookaside_list(&list, block);
    });
    let check = bug_check_of(&foreign);
    assert_eq!((check.code, check.params[0], check.params[2]), (0xC4, 0x16, 32));
}

#[test]
fn entries_below_the_minimum_block_size_are_bug_check_0xc4_0xcd() {
    for size in [0, LOOKASIDE_MINIMUM_BLOCK_SIZE - 1] {
        let run =
            Machine::sim().run(move || drop(ex_initialize_paged_lookaside_list(size, TAG, 0)));
        let check = bug_check_of(&run);
        assert_eq!((check.code, check.params[0]), (0xC4, 0xCD));
        assert_eq!(check.params[2..], [size as u64, LOOKASIDE_MINIMUM_BLOCK_SIZE as u64]);
    }
}

/// The stop for `scenario`: code, sub-code, IRQL, limit, and its message.
fn irql_stop(scenario: impl FnOnce() + 'static) -> ([u64; 4], String) {
    let run = Machine::sim().processors(2).run(scenario);
    let check = bug_check_of(&run);
    let [sub, irql, limit, _] = check.params;
    ([u64::from(check.code), sub, irql, limit], check.message)
}

#[test]
fn calls_above_their_irql_limit_are_bug_check_0x121_0x2() {
    // A nonpaged list allows DISPATCH_LEVEL, not a device level.
    let (stop, message) = irql_stop(|| {
        let list = ex_initialize_npaged_lookaside_list(SIZE, TAG, 0);
        ke_raise_irql(Irql(10));
        ex_allocate_from_npaged_lookaside_list(&list);
    });
    assert_eq!(stop, [0x121, 0x2, 10, 2]);
    assert!(message.contains("ExAllocateFromNPagedLookasideList"), "{message}");

    // A paged list stops at APC_LEVEL, even for a hit that needs no pool.
    let (stop, message) = irql_stop(|| {
        let list = ex_initialize_paged_lookaside_list(SIZE, TAG, 0);
        let block = ex_allocate_from_paged_lookaside_list(&list).expect("pool has room");
        ex_free_to_paged_lookaside_list(&list, block);
        ke_raise_irql(DISPATCH_LEVEL);
        ex_allocate_from_paged_lookaside_list(&list);
    });
    assert_eq!(stop, [0x121, 0x2, 2, 1]);
    assert!(message.contains("ExAllocateFromPagedLookasideList"), "{message}");

    let (stop, message) = irql_stop(|| {
        let list = ex_initialize_paged_lookaside_list(SIZE, TAG, 0);
        let block = ex_allocate_from_paged_lookaside_list(&list).expect("pool has room");
        ke_raise_irql(DISPATCH_LEVEL);
        ex_free_to_paged_lookaside_list(&list, block);
    });
    assert_eq!(stop, [0x121, 0x2, 2, 1]);
    assert!(message.contains("ExFreeToPagedLookasideList"), "{message}");

    let (stop, message) = irql_stop(|| {
        ke_raise_irql(DISPATCH_LEVEL);
        drop(ex_initialize_paged_lookaside_list(SIZE, TAG, 0));
    });
    assert_eq!(stop, [0x121, 0x2, 2, 1]);
    assert!(message.contains("ExInitializePagedLookasideList"), "{message}");

    let (stop, message) = irql_stop(|| {
        let list = ex_initialize_npaged_lookaside_list(SIZE, TAG, 0);
        ke_raise_irql(Irql(10));
        ex_delete_npaged_lookaside_list(list);
    });
    assert_eq!(stop, [0x121, 0x2, 10, 2]);
    assert!(message.contains("ExDeleteNPagedLookasideList"), "{message}");
}

const THREADS: u8 = 2;

/// `THREADS` threads, started together, share a depth-3 list, each taking
/// two blocks at a time, stamping them, yielding and checking the stamps before freeing
/// them. Returns the counters, then how many blocks the list hands out
/// before its next miss.
fn share(rounds: u32) -> (LookasideCounts, u64) {
    let list = Arc::new(ex_initialize_npaged_lookaside_list(SIZE, TAG, 3));
    let start = Event::new(EventType::NotificationEvent, false);
    let threads: Vec<_> = (0..THREADS)
        .map(|me| {
            let (list, start) = (list.clone(), start.clone());
            ps_create_system_thread(move || {
                ke_wait_for_single_object(&start, None);
                for round in 0..rounds {
                    let stamp = [me, round as u8];
                    let mut pair = [(); 2].map(|_| {
                        ex_allocate_from_npaged_lookaside_list(&list).expect("pool has room")
                    });
                    for block in &mut pair {
                        block[..2].copy_from_slice(&stamp);
                    }
                    ke_stall_execution_processor(1);
                    for block in pair {
                        assert_eq!(block[..2], stamp, "a block handed to two owners");
                        ex_free_to_npaged_lookaside_list(&list, block);
                    }
                }
            })
            .expect("created at PASSIVE_LEVEL")
        })
        .collect();
    ke_set_event(&start, 0, false);
    for thread in &threads {
        assert_eq!(ke_wait_for_single_object(thread, None), STATUS_SUCCESS);
    }
    let counts = list.counts();
    let mut kept = 0;
    let mut taken = Vec::new();
    loop {
        taken.push(ex_allocate_from_npaged_lookaside_list(&list).expect("pool has room"));
        if list.counts().allocate_misses > counts.allocate_misses {
            break (counts, kept);
        }
        kept += 1;
    }
}

/// What [`share`] must find: every allocate freed, and every block made on
/// a miss either freed to the pool on a free miss or still kept.
fn check_shared((counts, kept): (LookasideCounts, u64), rounds: u32) {
    let calls = u64::from(THREADS) * 2 * u64::from(rounds);
    assert_eq!((counts.total_allocates, counts.total_frees), (calls, calls));
    assert_eq!(counts.allocate_misses - counts.free_misses, kept, "{counts:?}");
    assert!(kept <= 3, "kept {kept} beyond depth 3");
}

#[test]
fn two_processors_sharing_a_list_lose_nothing_under_every_seed() {
    Machine::sim().processors(2).explore(0..120, || check_shared(share(6), 6)).assert_ok();
}

#[test]
fn two_threads_sharing_a_list_lose_nothing_on_a_threaded_machine() {
    let run = Machine::threaded().processors(2).run(|| share(2_000));
    check_shared(run.value(), 2_000);
}
