package dev.midlayer.drivers.fault;

import dev.midlayer.ib.Gid;
import java.util.Objects;

/**
 * One direction of a port pair: packets leaving the port with GID {@code source} for the port with GID
 * {@code destination}. The reverse direction is {@link #reverse()}. A port's GID is unique on a fabric, so a
 * direction names one half of one link whatever the driver.
 *
 * <p>An immutable value: every method is safe from any thread and never blocks.
 */
public record Direction(Gid source, Gid destination) {
  /** Checks both GIDs are given. */
  public Direction {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(destination, "destination");
  }

  /** The opposite direction of the same port pair. */
  public Direction reverse() {
    return new Direction(destination, source);
  }

  @Override
  public String toString() {
    return source + " -> " + destination;
  }
}
