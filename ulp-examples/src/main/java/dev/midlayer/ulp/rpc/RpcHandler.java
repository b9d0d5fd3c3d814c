package dev.midlayer.ulp.rpc;

/** The server's procedure. */
@FunctionalInterface
public interface RpcHandler {
  /**
   * Answers {@code request} with at most {@link RpcServer#MAX_RESPONSE} bytes. Called in a completion handler,
   * in the turn of the device CQ's actor (atomic context), one request at a time per device (calls of two
   * devices may run at once on two threads): it must not sleep or block. A handler that throws answers the call
   * with an error that names the exception.
   */
  byte[] handle(byte[] request);
}
