//! Baselines for the three-layer IRP benchmark: the same work as
//! [`super::Stack3`] without a kernel. Each of the two upper layers copies
//! its stack location to the next and sets a completion routine; the
//! bottom one copies 4 bytes under a lock and completes; completion walks
//! back up calling the routines. `call` is a plain call chain (the limit);
//! `hop` passes the request to the next layer through a crossbeam channel
//! (a message-passing design, one hop per layer, no thread switch).

use std::hint::black_box;

use crate::sync::Mutex;
use crossbeam_channel::{Receiver, Sender, bounded};

#[derive(Clone, Copy, Debug, Default)]
struct Location {
    major: u8,
    length: u32,
    offset: i64,
    completion: Option<fn(&mut Request)>,
}

/// A request with four locations, as an IRP for three layers and its sender.
#[derive(Debug, Default)]
pub struct Request {
    locations: [Location; 4],
    current: usize,
    buffer: [u8; 4],
    information: usize,
}

fn completed(request: &mut Request) {
    black_box(&request.information);
}

/// A layer copies its location to the next one and sets its routine.
fn pass_down(request: &mut Request) {
    let current = request.locations[request.current];
    request.current -= 1;
    request.locations[request.current] = Location { completion: Some(completed), ..current };
}

/// The bottom layer's work and the walk back up.
fn complete_at_bottom(data: &Mutex<[u8; 4]>, request: &mut Request) {
    request.buffer.copy_from_slice(&*data.lock());
    request.information = 4;
    while request.current < request.locations.len() {
        if let Some(routine) = request.locations[request.current].completion.take() {
            routine(request);
        }
        request.current += 1;
    }
}

fn fresh() -> Request {
    let mut request = Request { current: 3, ..Request::default() };
    request.locations[3] = Location { major: 3, length: 4, offset: 0, completion: Some(completed) };
    request
}

/// The plain call chain.
#[inline(never)]
pub fn call(data: &Mutex<[u8; 4]>) -> usize {
    let mut request = fresh();
    layer(data, &mut request, 0);
    request.information
}

#[inline(never)]
fn layer(data: &Mutex<[u8; 4]>, request: &mut Request, depth: u8) {
    if depth < 2 {
        pass_down(request);
        layer(data, request, depth + 1);
    } else {
        black_box((
            request.locations[request.current].major,
            request.locations[request.current].length,
            request.locations[request.current].offset,
        ));
        complete_at_bottom(data, request);
    }
}

/// A channel into a layer.
type Channel = (Sender<Box<Request>>, Receiver<Box<Request>>);

/// The channel-hop chain: one channel into each of the three layers.
#[derive(Debug)]
pub struct Hops {
    channels: Vec<Channel>,
    spare: Option<Box<Request>>,
}

impl Default for Hops {
    fn default() -> Hops {
        Hops::new()
    }
}

impl Hops {
    pub fn new() -> Hops {
        Hops { channels: (0..3).map(|_| bounded(1)).collect(), spare: Some(Box::default()) }
    }

    /// One request through the three layers.
    #[inline(never)]
    pub fn call(&mut self, data: &Mutex<[u8; 4]>) -> usize {
        let mut request = self.spare.take().unwrap_or_default();
        *request = fresh();
        for depth in 0..3 {
            let (tx, rx) = &self.channels[depth];
            // Both ends are this chain's: neither send nor receive fails.
            if tx.send(request).is_err() {
                return 0;
            }
            let Ok(received) = rx.recv() else { return 0 };
            request = received;
            if depth < 2 {
                pass_down(&mut request);
            }
        }
        complete_at_bottom(data, &mut request);
        let information = request.information;
        self.spare = Some(request);
        information
    }
}
