package dev.midlayer.drivers.engine;

/**
 * One transport packet between two engines: the IB headers the engine uses (IBA 9.2: BTH, RETH, AtomicETH,
 * AETH, AtomicAckETH, ImmDt/IETH, DETH) and a payload reference. Immutable; every method never blocks and
 * may be called from any thread.
 *
 * @param opcode the BTH opcode
 * @param srcQpn the sending QP (DETH source QP for UD; for RC and UC the requester, where answers go)
 * @param destQpn the BTH destination QP
 * @param psn the BTH PSN (24 bits): of the request, or of the request an answer acknowledges
 * @param ackRequest the BTH A bit: the requester asks for an acknowledgement
 * @param solicited the BTH SE bit: the responder's CQ event is solicited
 * @param epoch the requester's incarnation of its send side (bumped by every flush and reset), echoed in the
 *     answers, so answers to requests sent before a flush are recognised and ignored. A wire does not carry
 *     it in IB (the PSN window does that job); an in-JVM link can deliver a request long after a reset, so it
 *     is kept explicit
 * @param aeth the AETH syndrome of an answer ({@link Aeth}), 0 for requests
 * @param remoteAddr RETH virtual address, or the AtomicETH address
 * @param rkey RETH or AtomicETH remote key
 * @param dmaLength RETH DMA length
 * @param immOrKey the immediate data (ImmDt) or the key to invalidate (IETH)
 * @param compareAdd AtomicETH compare (CMP_AND_SWP) or add (FETCH_AND_ADD) operand
 * @param swap AtomicETH swap operand
 * @param atomicOriginal AtomicAckETH: the original value at the responder
 * @param qkey DETH Q_Key (UD)
 * @param slid the source LID (UD work completions), 0 on RoCE-like ports
 * @param grh the global route header, or null when the packet carried none
 * @param payload the data, or null for none
 */
public record Packet(Opcode opcode, int srcQpn, int destQpn, int psn, boolean ackRequest, boolean solicited,
    long epoch, int aeth, long remoteAddr, int rkey, int dmaLength, int immOrKey, long compareAdd, long swap,
    long atomicOriginal, int qkey, int slid, Grh grh, Payload payload) {

  /** Bytes of payload (0 without one). */
  public long payloadLength() {
    return payload == null ? 0 : payload.length();
  }

  /** This packet with another payload (a wire link's copy of it). */
  public Packet withPayload(Payload p) {
    return new Packet(opcode, srcQpn, destQpn, psn, ackRequest, solicited, epoch, aeth, remoteAddr, rkey, dmaLength,
        immOrKey, compareAdd, swap, atomicOriginal, qkey, slid, grh, p);
  }

  /** An ACK, RNR NAK or NAK ({@code aeth}) of {@code psn} from {@code srcQpn} to the requester {@code destQpn}. */
  public static Packet acknowledge(int srcQpn, int destQpn, int psn, long epoch, int aeth) {
    return new Packet(Opcode.ACKNOWLEDGE, srcQpn, destQpn, psn, false, false, epoch, aeth, 0, 0, 0, 0, 0, 0, 0, 0,
        0, null, null);
  }
}
