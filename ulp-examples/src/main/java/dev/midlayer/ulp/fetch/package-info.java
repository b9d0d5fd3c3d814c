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
 * non-sleeping verbs are called there. Copy {@link dev.midlayer.ulp.fetch.FetchEndpoint} for the set-up
 * and {@link dev.midlayer.ulp.fetch.FetchInitiator} / {@link dev.midlayer.ulp.fetch.FetchTarget} for the
 * data path.
 */
package dev.midlayer.ulp.fetch;
