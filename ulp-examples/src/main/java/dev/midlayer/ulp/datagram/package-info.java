/**
 * The datagram template ULP: a UD service on every device it is added to, with many peers, as IPoIB's datagram
 * mode is. A {@link dev.midlayer.ulp.datagram.DatagramEndpoint} sends a message of at most one path MTU to any
 * peer's {@link dev.midlayer.ulp.datagram.DatagramAddress} and hands every message it receives to a
 * {@link dev.midlayer.ulp.datagram.DatagramHandler}, which may answer with
 * {@link dev.midlayer.ulp.datagram.Datagram#reply}.
 *
 * <p>It shows the non-sleeping AH verbs in action: address handles are created where they are first needed, from
 * the sending thread or from a completion handler (from the receive's work completion,
 * {@link dev.midlayer.verbs.AhFromWc}), and cached per path, so a peer costs one AH however many messages it
 * exchanges. A message larger than the path MTU is refused with {@link
 * dev.midlayer.ulp.datagram.DatagramTooLargeException} naming both sizes; a full send ring drops the message and
 * counts it, as a NIC's transmit queue does.
 */
package dev.midlayer.ulp.datagram;
