package dev.midlayer.internal.cm;

import dev.midlayer.ib.Gid;
import java.util.Collection;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * Internal API. The {@link CmTransport} between CM actors found through the Receptionist: a MAD for one of this
 * CM's GIDs is told to this CM, one for a GID another CM announced ({@link CmProtocol.Ports}) to that CM. The
 * tables are written by the {@link CmActor} only and read by every actor of the CM.
 */
final class ReceptionistTransport implements CmTransport {
  private final ActorRef<CmProtocol> self;
  private volatile Set<Gid> local = Set.of();
  private final Map<Gid, ActorRef<CmProtocol>> remote = new ConcurrentHashMap<>();

  ReceptionistTransport(ActorRef<CmProtocol> self) {
    this.self = self;
  }

  @Override
  public boolean send(CmProtocol.Mad mad) {
    ActorRef<CmProtocol> to = local.contains(mad.dstGid()) ? self : remote.get(mad.dstGid());
    if (to == null) {
      return false;
    }
    to.tell(mad);
    return true;
  }

  @Override
  public boolean reaches(Gid gid) {
    return local.contains(gid) || remote.containsKey(gid);
  }

  /** This CM's GIDs now. CM actor only. */
  void localGids(Set<Gid> gids) {
    local = Set.copyOf(gids);
  }

  /** The GIDs {@code peer} announced, replacing what it announced before. CM actor only. */
  void peer(ActorRef<CmProtocol> peer, Collection<Gid> gids) {
    drop(peer);
    for (Gid g : gids) {
      remote.put(g, peer);
    }
  }

  /** Forgets {@code peer} (it left the listing). CM actor only. */
  void drop(ActorRef<CmProtocol> peer) {
    remote.values().removeIf(peer::equals);
  }
}
