package dev.midlayer.layering.broken.ulp;

import dev.midlayer.layering.broken.internal.Impl;

/** Breaks "ULPs, the command line and the testkit use only the public API". */
public final class Template {
  Impl impl;
}
