package dev.midlayer.monitor;

/**
 * The verbs that never sleep and may be called from any context (the seed's C1/C2), as the monitor sees them
 * enter and leave. While a thread is inside one, it must not block and no completion may be produced for it.
 */
public enum NonSleepingVerb {
  POST_SEND, POST_RECV, POST_SRQ_RECV, POLL_CQ, REQ_NOTIFY_CQ, PROCESS_CQ_DIRECT, CREATE_AH, MODIFY_AH, QUERY_AH,
  DESTROY_AH, MAP_PHYS_FMR;

  /** A post to a work queue. */
  public boolean isPost() {
    return this == POST_SEND || this == POST_RECV || this == POST_SRQ_RECV;
  }

  /** A poll of a CQ. */
  public boolean isPoll() {
    return this == POLL_CQ || this == PROCESS_CQ_DIRECT;
  }

  /** The kernel's name, e.g. {@code ib_post_send}. */
  public String kernelName() {
    return switch (this) {
      case POST_SEND -> "ib_post_send";
      case POST_RECV -> "ib_post_recv";
      case POST_SRQ_RECV -> "ib_post_srq_recv";
      case POLL_CQ -> "ib_poll_cq";
      case REQ_NOTIFY_CQ -> "ib_req_notify_cq";
      case PROCESS_CQ_DIRECT -> "ib_process_cq_direct";
      case CREATE_AH -> "ib_create_ah";
      case MODIFY_AH -> "ib_modify_ah";
      case QUERY_AH -> "ib_query_ah";
      case DESTROY_AH -> "ib_destroy_ah";
      case MAP_PHYS_FMR -> "ib_map_phys_fmr";
    };
  }
}
