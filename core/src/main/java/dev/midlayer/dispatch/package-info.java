/**
 * The executors the midlayer's dispatchers run on ({@link dev.midlayer.dispatch.PrestartedForkJoinExecutor}
 * for the data path, {@link dev.midlayer.dispatch.BackoffExecutor} for consumer callbacks), named in
 * configuration. Dispatchers are chosen in {@code midlayer.dispatchers}; the midlayer checks at start
 * that the ones non-sleeping verbs tell use an executor that never parks or starts a thread on the caller.
 */
package dev.midlayer.dispatch;
