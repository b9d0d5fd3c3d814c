package dev.midlayer.ulp.rpc;

/** The server's procedure. */
@FunctionalInterface
public interface RpcHandler {
  /**
   * Answers {@code request} with at most {@link RpcServer#MAX_RESPONSE} bytes. Called in a completion handler
   * (atomic context): it must not block. A handler that throws answers the call with an error that names the
   * exception.
   */
  byte[] handle(byte[] request);
}
