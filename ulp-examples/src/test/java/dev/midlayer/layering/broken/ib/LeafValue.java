package dev.midlayer.layering.broken.ib;

import dev.midlayer.layering.broken.verbs.Handle;

/** Breaks "ib depends on nothing of the project": a value type that knows a consumer handle. */
public final class LeafValue {
  Handle handle;
}
