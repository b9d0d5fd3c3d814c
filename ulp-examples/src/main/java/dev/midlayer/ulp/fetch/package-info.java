/**
 * A template data-path ULP: an initiator fetches byte ranges of a target's store, and the target writes
 * them straight into the initiator's memory. It is the pattern of iSER and NVMe over Fabrics:
 *
 * <ol>
 *   <li>the initiator fast-registers the pages that will receive the data ({@code updateFastRegKey},
 *       {@code mapPages}, a REG_MR chained before the request SEND), so the target gets a key that covers
 *       exactly those pages and nothing else;
 *   <li>the target RDMA WRITEs the bytes to that key and answers with a SEND_WITH_INV of it, so the
 *       initiator's region is invalidated by the time the answer's receive completes: a late or rogue
 *       write with that key fails, and no LOCAL_INV is needed before the pages are reused.
 * </ol>
 *
 * <p>Both sides poll their CQ with its actor ({@code PollContext.ACTOR}) and hand every work request a
 * {@code Cqe} callback, so all completion work runs on the CQ actor, one completion at a time, and only
 * non-sleeping verbs are called there.
 *
 * <p>Applications use it as two registered clients, connected through the connection manager:
 * {@link dev.midlayer.ulp.fetch.FetchTargetClient} listens on each device its selector accepts and serves every
 * initiator that connects with a {@link dev.midlayer.ulp.fetch.FetchTarget} of its own (set up, and torn down
 * when the initiator disconnects, by a per-device actor on the blocking dispatcher that the CM tells its events
 * to, so no callback sleeps); {@link dev.midlayer.ulp.fetch.FetchInitiatorClient} connects a
 * {@link dev.midlayer.ulp.fetch.FetchInitiator} on each device to a destination chosen per device and hands it
 * to the application ({@code initiator(device)}, or a callback once connected). Both survive devices coming and
 * going: each {@code remove} disconnects, drains and destroys everything of its device before it returns, and a
 * fetch in flight when its device (or its target's) goes away fails with
 * {@link dev.midlayer.ulp.fetch.FetchException} instead of hanging.
 *
 * <p>Copy the clients for the lifecycle, {@link dev.midlayer.ulp.fetch.FetchEndpoint} for the set-up and
 * {@link dev.midlayer.ulp.fetch.FetchInitiator} / {@link dev.midlayer.ulp.fetch.FetchTarget} for the data path;
 * the endpoints can still be connected by hand ({@code listen}, {@code connect}) as the tests of the data path
 * do.
 */
package dev.midlayer.ulp.fetch;
