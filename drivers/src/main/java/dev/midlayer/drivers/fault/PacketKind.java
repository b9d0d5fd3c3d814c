package dev.midlayer.drivers.fault;

/** What a packet on a link carries: a request (data), or a responder's acknowledgement or negative one. */
public enum PacketKind {
  /** A request packet: SEND, RDMA WRITE/READ request, atomic; on UC/UD every packet. */
  DATA,
  /** An RC acknowledgement (cumulative, for a PSN). */
  ACK,
  /** An RC negative acknowledgement (PSN sequence error, RNR, remote errors). */
  NAK
}
