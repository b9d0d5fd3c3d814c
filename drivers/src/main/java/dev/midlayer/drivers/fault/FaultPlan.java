package dev.midlayer.drivers.fault;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * A seeded fault plan for the links of a software fabric: an ordered list of rules, each a {@link Match} (which
 * packets: a direction of a port pair, a sending or receiving QP, packet kinds, PSNs, attempts), a probability
 * and a fault (drop, duplicate, delay, reorder, or an explicit pass that exempts packets from later rules).
 *
 * <h2>The decision function</h2>
 * {@link #decide} looks at the rules in order; the first rule that matches the packet and <i>fires</i> gives the
 * decision, and if none fires the packet passes. A rule with probability 1 always fires, one with 0 never; any
 * other fires if a uniform number in [0, 1) drawn for (rule, packet) is below its probability. That number is
 * a hash, not a draw from a shared generator: SplitMix64's finalizer over the seed, the direction's two GIDs,
 * the two QP numbers, the PSN, the kind, the attempt and the rule's index. So a decision is a pure function of
 * (seed, direction, packet identity, attempt): it does not depend on which thread asks, in which order, or
 * how often, and a run with the same seed and the same packets makes the same decisions. With one poster per
 * QP, a driver whose packet identities and attempts follow from the posts alone (PSNs from the posting order)
 * therefore replays the same losses, and the same completions per QP.
 *
 * <p>The attempt is which transmission of that packet it is: 0 for the first, 1 for the first retransmission,
 * and so on ({@link Match#attempts}, {@link Builder#dropFirst}). For ACKs and NAKs it counts the times the
 * responder sent that acknowledgement of that PSN.
 *
 * <h2>Observation</h2>
 * The rules are immutable. A link that applies the plan calls {@link #apply}, which decides and counts the
 * decision per direction ({@link #counts(Direction)}, {@link #totals()}); the counts are the plan's only
 * mutable state and never influence a decision.
 *
 * <p>Thread safety: immutable rules, thread-safe counters; every method is safe from any thread and context
 * and <b>never blocks</b>. {@link #decide} allocates nothing; {@link #apply} does not allocate once a
 * direction has been seen.
 */
public final class FaultPlan {
  /** How long a REORDER holds a packet when no later packet releases it, unless a rule says otherwise. */
  public static final Duration DEFAULT_REORDER_HOLD = Duration.ofMillis(1);

  private static final long GOLDEN = 0x9E37_79B9_7F4A_7C15L;

  private final long seed;
  private final Rule[] rules;
  private final Map<Direction, Counters> counters = new ConcurrentHashMap<>();

  private FaultPlan(long seed, List<Rule> rules) {
    this.seed = seed;
    this.rules = rules.toArray(new Rule[0]);
  }

  /** A builder for a plan with {@code seed}. */
  public static Builder builder(long seed) {
    return new Builder(seed);
  }

  /** A plan without rules: every packet passes (useful to count packets). */
  public static FaultPlan none(long seed) {
    return new FaultPlan(seed, List.of());
  }

  /** The seed. */
  public long seed() {
    return seed;
  }

  /** The rules, in the order they are tried. */
  public List<Rule> rules() {
    return List.of(rules);
  }

  /**
   * The decision for one transmission of a packet. Pure: the same arguments give the same decision on every
   * call, from any thread; nothing is counted (see {@link #apply}). Never blocks; allocates nothing.
   *
   * @param attempt 0 for the first transmission of this packet, 1 for the first retransmission, ...
   */
  public FaultDecision decide(Direction direction, PacketId packet, int attempt) {
    return decide(direction, packet.srcQpn(), packet.dstQpn(), packet.psn(), packet.kind(), attempt);
  }

  /** {@link #decide(Direction, PacketId, int)} without the identity record. Never blocks; allocates nothing. */
  public FaultDecision decide(Direction direction, int srcQpn, int dstQpn, int psn, PacketKind kind, int attempt) {
    long base = 0;
    boolean hashed = false;
    for (int i = 0; i < rules.length; i++) {
      Rule r = rules[i];
      if (!r.match.matches(direction, srcQpn, dstQpn, psn, kind, attempt)) {
        continue;
      }
      boolean fires;
      if (r.probability >= 1.0) {
        fires = true;
      } else if (r.probability <= 0.0) {
        fires = false;
      } else {
        if (!hashed) {
          base = hash(seed, direction, srcQpn, dstQpn, psn, kind, attempt);
          hashed = true;
        }
        fires = unit(mix(base + (i + 1) * GOLDEN)) < r.probability;
      }
      if (fires) {
        return r.fault;
      }
    }
    return FaultDecision.PASS;
  }

  /**
   * What a link calls for each packet it is about to send: {@link #decide} and counts the decision for
   * {@code direction}. Never blocks; any thread.
   */
  public FaultDecision apply(Direction direction, int srcQpn, int dstQpn, int psn, PacketKind kind, int attempt) {
    FaultDecision d = decide(direction, srcQpn, dstQpn, psn, kind, attempt);
    Counters c = counters.get(direction);
    if (c == null) {
      c = counters.computeIfAbsent(direction, k -> new Counters());
    }
    c.count(d);
    return d;
  }

  /** What was applied on {@code direction} so far ({@link FaultCounts#ZERO} if nothing). Never blocks; any thread. */
  public FaultCounts counts(Direction direction) {
    Counters c = counters.get(direction);
    return c == null ? FaultCounts.ZERO : c.snapshot();
  }

  /** The counts of every direction seen so far. Never blocks; any thread. */
  public Map<Direction, FaultCounts> countsByDirection() {
    Map<Direction, FaultCounts> out = new java.util.HashMap<>();
    counters.forEach((d, c) -> out.put(d, c.snapshot()));
    return Collections.unmodifiableMap(out);
  }

  /** The counts summed over all directions. Never blocks; any thread. */
  public FaultCounts totals() {
    FaultCounts sum = FaultCounts.ZERO;
    for (Counters c : counters.values()) {
      sum = sum.plus(c.snapshot());
    }
    return sum;
  }

  @Override
  public String toString() {
    return "FaultPlan(seed=" + seed + ", " + List.of(rules) + ")";
  }

  // ---- hashing ----

  static long hash(long seed, Direction d, int srcQpn, int dstQpn, int psn, PacketKind kind, int attempt) {
    long h = mix(seed + GOLDEN);
    h = mix(h ^ d.source().subnetPrefix());
    h = mix(h ^ d.source().interfaceId());
    h = mix(h ^ d.destination().subnetPrefix());
    h = mix(h ^ d.destination().interfaceId());
    h = mix(h ^ ((long) srcQpn << 32 | (dstQpn & 0xFFFF_FFFFL)));
    h = mix(h ^ ((long) (psn & 0xFFFFFF) << 8 | kind.ordinal()));
    return mix(h ^ attempt);
  }

  /** SplitMix64's finalizer (Stafford's variant 13): a bijection with good avalanche. */
  static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58_476D_1CE4_E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D0_49BB_1331_11EBL;
    return z ^ (z >>> 31);
  }

  /** The top 53 bits as a double in [0, 1). */
  static double unit(long h) {
    return (h >>> 11) * 0x1.0p-53;
  }

  // ---- rules ----

  /**
   * Which packets a rule applies to. Every criterion left open matches everything; {@link #any()} leaves all
   * open. Immutable; each method returns a narrowed copy.
   *
   * <p>QP numbers are unique per device only (two devices may both have QP 2): to aim at one QP of a fabric
   * with several devices, combine {@link #fromQp} with {@link #direction}.
   */
  public record Match(Direction direction, boolean bothWays, int srcQpn, int dstQpn, Set<PacketKind> kinds,
      int psnLo, int psnHi, int psnModulus, int psnPhase, int attemptLo, int attemptHi) {
    private static final Match ANY = new Match(null, false, -1, -1, EnumSet.allOf(PacketKind.class), 0, 0xFFFFFF,
        1, 0, 0, Integer.MAX_VALUE);

    /** Copies {@code kinds} into an unmodifiable set. */
    public Match {
      kinds = Collections.unmodifiableSet(kinds.isEmpty() ? EnumSet.noneOf(PacketKind.class) : EnumSet.copyOf(kinds));
    }

    /** Every packet. */
    public static Match any() {
      return ANY;
    }

    /** Packets of one direction of a port pair. */
    public Match direction(Direction d) {
      return new Match(java.util.Objects.requireNonNull(d, "direction"), false, srcQpn, dstQpn, kinds, psnLo, psnHi,
          psnModulus, psnPhase, attemptLo, attemptHi);
    }

    /** Packets of both directions of the port pair of {@code d}. */
    public Match link(Direction d) {
      return new Match(java.util.Objects.requireNonNull(d, "direction"), true, srcQpn, dstQpn, kinds, psnLo, psnHi,
          psnModulus, psnPhase, attemptLo, attemptHi);
    }

    /** Packets sent by QP {@code qpn} (its requests, or its ACKs/NAKs as a responder). */
    public Match fromQp(int qpn) {
      return new Match(direction, bothWays, qpn & 0xFFFFFF, dstQpn, kinds, psnLo, psnHi, psnModulus, psnPhase,
          attemptLo, attemptHi);
    }

    /** Packets addressed to QP {@code qpn}. */
    public Match toQp(int qpn) {
      return new Match(direction, bothWays, srcQpn, qpn & 0xFFFFFF, kinds, psnLo, psnHi, psnModulus, psnPhase,
          attemptLo, attemptHi);
    }

    /** Packets of these kinds only. */
    public Match kinds(PacketKind first, PacketKind... more) {
      return new Match(direction, bothWays, srcQpn, dstQpn, EnumSet.of(first, more), psnLo, psnHi, psnModulus,
          psnPhase, attemptLo, attemptHi);
    }

    /** Request packets only ({@link PacketKind#DATA}). */
    public Match data() {
      return kinds(PacketKind.DATA);
    }

    /** PSNs {@code lo..hi}, both included (no wrap-around: {@code lo <= hi}, 24-bit values). */
    public Match psns(int lo, int hi) {
      if (lo < 0 || hi > 0xFFFFFF || lo > hi) {
        throw new IllegalArgumentException("need 0 <= lo <= hi <= 0xFFFFFF, got " + lo + ".." + hi);
      }
      return new Match(direction, bothWays, srcQpn, dstQpn, kinds, lo, hi, psnModulus, psnPhase, attemptLo,
          attemptHi);
    }

    /** The one PSN {@code psn}. */
    public Match psn(int psn) {
      return psns(psn, psn);
    }

    /** PSNs with {@code psn % n == phase}: every n-th packet of a stream. */
    public Match everyNthPsn(int n, int phase) {
      if (n < 1 || phase < 0 || phase >= n) {
        throw new IllegalArgumentException("need n >= 1 and 0 <= phase < n, got n=" + n + ", phase=" + phase);
      }
      return new Match(direction, bothWays, srcQpn, dstQpn, kinds, psnLo, psnHi, n, phase, attemptLo, attemptHi);
    }

    /** Transmissions {@code lo..hi} (both included) of each packet: 0 is the first. */
    public Match attempts(int lo, int hi) {
      if (lo < 0 || lo > hi) {
        throw new IllegalArgumentException("need 0 <= lo <= hi, got " + lo + ".." + hi);
      }
      return new Match(direction, bothWays, srcQpn, dstQpn, kinds, psnLo, psnHi, psnModulus, psnPhase, lo, hi);
    }

    /** True if the packet is one of these. Allocates nothing. */
    public boolean matches(Direction d, int src, int dst, int psn, PacketKind kind, int attempt) {
      if (direction != null && !direction.equals(d)
          && !(bothWays && direction.source().equals(d.destination())
              && direction.destination().equals(d.source()))) {
        return false;
      }
      return (srcQpn < 0 || srcQpn == src)
          && (dstQpn < 0 || dstQpn == dst)
          && kinds.contains(kind)
          && psn >= psnLo && psn <= psnHi
          && (psnModulus == 1 || psn % psnModulus == psnPhase)
          && attempt >= attemptLo && attempt <= attemptHi;
    }
  }

  /** One rule: the packets it matches, the probability it fires for each, and the fault then. */
  public record Rule(Match match, double probability, FaultDecision fault) {
    /** Checks the match and fault are given and the probability is in [0, 1]. */
    public Rule {
      java.util.Objects.requireNonNull(match, "match");
      java.util.Objects.requireNonNull(fault, "fault");
      if (!(probability >= 0.0 && probability <= 1.0)) {
        throw new IllegalArgumentException("probability must be in [0, 1], was " + probability);
      }
    }
  }

  /**
   * Builds a {@link FaultPlan}; rules are tried in the order they are added. Its methods never block; a builder
   * is for one thread at a time (the plan it builds is for any number).
   */
  public static final class Builder {
    private final long seed;
    private final List<Rule> rules = new ArrayList<>();

    private Builder(long seed) {
      this.seed = seed;
    }

    /** Adds a rule: packets matching {@code match} get {@code fault} with probability {@code probability}. */
    public Builder rule(Match match, double probability, FaultDecision fault) {
      rules.add(new Rule(match, probability, fault));
      return this;
    }

    /** Drops matching packets with probability {@code p}. */
    public Builder drop(Match match, double p) {
      return rule(match, p, FaultDecision.DROP);
    }

    /** Drops every matching packet, on every attempt (an RC sender then runs out of retries). */
    public Builder dropAll(Match match) {
      return rule(match, 1.0, FaultDecision.DROP);
    }

    /**
     * Drops the first {@code k} transmissions of every matching packet, so an RC packet gets through on its
     * k-th retransmission (deterministic: no probability involved).
     */
    public Builder dropFirst(Match match, int k) {
      if (k < 1) {
        throw new IllegalArgumentException("k must be >= 1, was " + k);
      }
      return rule(match.attempts(0, k - 1), 1.0, FaultDecision.DROP);
    }

    /** Duplicates matching packets with probability {@code p}. */
    public Builder duplicate(Match match, double p) {
      return rule(match, p, FaultDecision.DUPLICATE);
    }

    /** Delays matching packets by {@code delay} (real IB time; a driver scales it like its timers) with probability {@code p}. */
    public Builder delay(Match match, double p, Duration delay) {
      return rule(match, p, new FaultDecision.Delay(delay.toNanos()));
    }

    /** Reorders matching packets with probability {@code p}, holding each at most {@link #DEFAULT_REORDER_HOLD}. */
    public Builder reorder(Match match, double p) {
      return reorder(match, p, DEFAULT_REORDER_HOLD);
    }

    /** Reorders matching packets with probability {@code p}, holding each at most {@code maxHold}. */
    public Builder reorder(Match match, double p, Duration maxHold) {
      return rule(match, p, new FaultDecision.Reorder(maxHold.toNanos()));
    }

    /** Exempts matching packets from the rules added after this one. */
    public Builder pass(Match match) {
      return rule(match, 1.0, FaultDecision.PASS);
    }

    /** The plan of the rules added so far, in that order (later additions do not change it). */
    public FaultPlan build() {
      return new FaultPlan(seed, rules);
    }
  }

  private static final class Counters {
    final LongAdder packets = new LongAdder();
    final LongAdder dropped = new LongAdder();
    final LongAdder duplicated = new LongAdder();
    final LongAdder delayed = new LongAdder();
    final LongAdder reordered = new LongAdder();

    void count(FaultDecision d) {
      packets.increment();
      if (d instanceof FaultDecision.Drop) {
        dropped.increment();
      } else if (d instanceof FaultDecision.Duplicate) {
        duplicated.increment();
      } else if (d instanceof FaultDecision.Delay) {
        delayed.increment();
      } else if (d instanceof FaultDecision.Reorder) {
        reordered.increment();
      }
    }

    FaultCounts snapshot() {
      return new FaultCounts(packets.sum(), dropped.sum(), duplicated.sum(), delayed.sum(), reordered.sum());
    }
  }
}
