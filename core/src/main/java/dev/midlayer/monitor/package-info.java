/**
 * The contract monitor: a watcher of a running midlayer that records every broken rule of the seed (C1 to C16)
 * and of "nothing lost" as a {@link dev.midlayer.monitor.Violation}; its ledger of work requests and its
 * concurrency witness; and the BlockHound integration that reports blocking calls where nothing may block.
 */
package dev.midlayer.monitor;
