package dev.midlayer.ulp.datagram;

/**
 * A message an endpoint received: who sent it, and its bytes (a copy the handler may keep).
 *
 * @param endpoint the endpoint that received it
 * @param from the sender's address (its GID or LID, and its QP number)
 * @param payload the message
 */
public record Datagram(DatagramEndpoint endpoint, DatagramAddress from, byte[] payload) {
  /**
   * Sends {@code answer} back to the sender, through the address handle the receive created. <b>Never blocks;
   * any thread and any context.</b> See {@link DatagramEndpoint#send}.
   */
  public boolean reply(byte[] answer) {
    return endpoint.send(from, answer);
  }
}
