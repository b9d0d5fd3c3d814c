package dev.midlayer.layering.broken.verbs;

import dev.midlayer.layering.broken.drivers.fake.FakeDriver;
import dev.midlayer.layering.broken.internal.Impl;

/**
 * Breaks "the API does not depend on internal" and "no public signature exposes internal" (its method
 * returns Impl), and depends on a driver, which closes a cycle between the API and the drivers.
 */
public final class Handle {
  FakeDriver driver;

  public Impl impl() {
    return new Impl();
  }
}
