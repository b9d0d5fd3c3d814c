package dev.midlayer;

import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.ExtensionId;

/**
 * The Pekko extension id of {@link Midlayer}. Use {@link Midlayer#get(ActorSystem)}. To start the
 * midlayer together with the actor system, list it in the config:
 * {@code pekko.actor.typed.library-extensions += "dev.midlayer.MidlayerId"}. Stateless; any thread.
 */
public final class MidlayerId extends ExtensionId<Midlayer> {
  private static final MidlayerId INSTANCE = new MidlayerId();

  private MidlayerId() {}

  /** The singleton; Pekko calls this when it loads the extension from config. Never blocks; any thread. */
  public static MidlayerId getInstance() {
    return INSTANCE;
  }

  @Override
  public Midlayer createExtension(ActorSystem<?> system) {
    return new dev.midlayer.internal.MidlayerImpl(system);
  }
}
