package dev.midlayer.layering.broken.drivers.fake;

import dev.midlayer.layering.broken.internal.Impl;
import dev.midlayer.layering.broken.verbs.Handle;

/** Breaks "drivers see only ib, spi and the public handles" (it uses Impl), and closes a cycle with Handle. */
public final class FakeDriver {
  Impl impl;
  Handle handle;
}
