package dev.midlayer.ib;

import dev.midlayer.ib.AsyncEventType.ElementKind;

/**
 * The element an {@link dev.midlayer.device.AsyncEvent} concerns (the union in {@code struct ib_event}).
 *
 * <p>Threading: immutable; {@link #kind()} never blocks and may be called from any thread.
 */
public sealed interface EventElement {
  /** Which kind of element this is. */
  ElementKind kind();

  /** The device as a whole. */
  record OfDevice() implements EventElement {
    @Override
    public ElementKind kind() {
      return ElementKind.DEVICE;
    }
  }

  /** A port, numbered from 1. */
  record OfPort(int portNum) implements EventElement {
    @Override
    public ElementKind kind() {
      return ElementKind.PORT;
    }
  }

  /** A completion queue, by its number on the device. */
  record OfCq(int cqNum) implements EventElement {
    @Override
    public ElementKind kind() {
      return ElementKind.CQ;
    }
  }

  /** A queue pair, by QP number. */
  record OfQp(int qpNum) implements EventElement {
    @Override
    public ElementKind kind() {
      return ElementKind.QP;
    }
  }

  /** A shared receive queue, by its number on the device. */
  record OfSrq(int srqNum) implements EventElement {
    @Override
    public ElementKind kind() {
      return ElementKind.SRQ;
    }
  }

  /** A receive work queue, by its number on the device. */
  record OfWq(int wqNum) implements EventElement {
    @Override
    public ElementKind kind() {
      return ElementKind.WQ;
    }
  }
}
