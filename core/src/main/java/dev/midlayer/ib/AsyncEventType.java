package dev.midlayer.ib;

/**
 * The asynchronous event types ({@code enum ib_event_type}, in enum order) and the kind of element
 * each concerns. Events about a device or a port are <em>unaffiliated</em>: they go through
 * {@link dev.midlayer.spi.DriverDevice#dispatchPortEvent} to every event handler registered on the device. Events about a CQ, QP,
 * SRQ or WQ are <em>affiliated</em>: the driver delivers them to that object's own event handler.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 */
public enum AsyncEventType {
  /** CQ overrun or other CQ error; the CQ is unusable. */
  CQ_ERR(ElementKind.CQ),
  /** The QP hit a fatal error and moved to ERR. */
  QP_FATAL(ElementKind.QP),
  /** Invalid request seen at the responder. */
  QP_REQ_ERR(ElementKind.QP),
  /** Local access violation at the responder. */
  QP_ACCESS_ERR(ElementKind.QP),
  /** First packet received while in RTR. */
  COMM_EST(ElementKind.QP),
  /** SQD reached: no outstanding send WRs. */
  SQ_DRAINED(ElementKind.QP),
  /** Migrated to the alternate path. */
  PATH_MIG(ElementKind.QP),
  /** Path migration failed. */
  PATH_MIG_ERR(ElementKind.QP),
  /** The whole device is dead; clients should tear down. */
  DEVICE_FATAL(ElementKind.DEVICE),
  /** The port became active (link up). */
  PORT_ACTIVE(ElementKind.PORT),
  /** The port left the active state (link down). */
  PORT_ERR(ElementKind.PORT),
  /** The port's LID changed. */
  LID_CHANGE(ElementKind.PORT),
  /** The port's P_Key table changed. */
  PKEY_CHANGE(ElementKind.PORT),
  /** The subnet manager changed. */
  SM_CHANGE(ElementKind.PORT),
  /** SRQ error. */
  SRQ_ERR(ElementKind.SRQ),
  /** The SRQ's WQE count fell below its armed limit (one-shot). */
  SRQ_LIMIT_REACHED(ElementKind.SRQ),
  /** An SRQ-attached QP in ERR consumed its last WQE. */
  QP_LAST_WQE_REACHED(ElementKind.QP),
  /** The SM asks clients to re-register. */
  CLIENT_REREGISTER(ElementKind.PORT),
  /** A GID table entry changed. */
  GID_CHANGE(ElementKind.PORT),
  /** Receive work queue error. */
  WQ_FATAL(ElementKind.WQ);

  /** The kind of object an event concerns. */
  public enum ElementKind {
    DEVICE, PORT, CQ, QP, SRQ, WQ
  }

  private final ElementKind element;

  AsyncEventType(ElementKind element) {
    this.element = element;
  }

  /** The kind of element this event type concerns. */
  public ElementKind element() {
    return element;
  }

  /** True for events about a CQ, QP, SRQ or WQ (delivered to that object's handler). */
  public boolean affiliated() {
    return element != ElementKind.DEVICE && element != ElementKind.PORT;
  }

  /**
   * True if the midlayer refreshes its cached port attributes before handlers see the event, as the
   * kernel's cache does, so a handler that reads the cache sees the new state.
   */
  public boolean refreshesPortCache() {
    switch (this) {
      case PORT_ACTIVE:
      case PORT_ERR:
      case LID_CHANGE:
      case PKEY_CHANGE:
      case CLIENT_REREGISTER:
      case GID_CHANGE:
        return true;
      default:
        return false;
    }
  }
}
