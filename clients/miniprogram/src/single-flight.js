'use strict';
// One operation in flight at a time: every caller while it runs gets the same promise, and the
// next call after it settled (fulfilled or rejected) starts a new one. A failure is not cached:
// the flight resets, so the next caller tries again.

/**
 * @template T
 * @param {() => Promise<T>} operation
 * @returns {(() => Promise<T>) & {pending: () => Promise<T> | null}}
 */
function singleFlight(operation) {
  let current = null;
  function run() {
    if (current) return current;
    // Started in a microtask, so that a synchronous throw becomes a rejection of the shared
    // promise, and `current` is set before the operation can look at it.
    const flight = Promise.resolve().then(operation);
    current = flight;
    // Registered before any caller's handlers, so `current` is cleared before they run: a
    // caller reacting to the outcome starts a new flight rather than joining the old one.
    const reset = () => {
      if (current === flight) current = null;
    };
    flight.then(reset, reset);
    return flight;
  }
  run.pending = () => current;
  return run;
}

module.exports = { singleFlight };
