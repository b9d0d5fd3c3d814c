package dev.midlayer.cm;

/**
 * A consumer callback for {@link CmEvent}s. The CM calls it on the consumer-callback dispatcher
 * ({@code midlayer.dispatchers.callback}), never in the caller's call chain, one event at a time per CM in the
 * order the CM raised them; in atomic context, so it must not sleep (the CM's own calls never do and may be
 * made from it). What it throws is logged and the CM goes on; a {@link CmEvent.ConnectRequest} or
 * {@link CmEvent.SidrRequest} whose handler threw is rejected with {@link RejectReason#CONSUMER_REJECT}.
 */
@FunctionalInterface
public interface CmEventHandler {
  /**
   * Handles one event. Called on a thread of the consumer-callback dispatcher, in atomic context: it must not
   * sleep or block.
   */
  void onEvent(CmEvent event) throws Exception;
}
