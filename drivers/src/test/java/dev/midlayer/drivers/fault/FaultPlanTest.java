package dev.midlayer.drivers.fault;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.ib.Gid;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The decision function alone: pure, seeded, replayable, rule order and matching, counts. */
class FaultPlanTest {
  private static final Direction AB = new Direction(Gid.linkLocal(0x0200_0000_0000_0101L),
      Gid.linkLocal(0x0200_0000_0000_0201L));
  private static final Direction BA = AB.reverse();

  private static FaultPlan mixed(long seed) {
    FaultPlan.Match data = FaultPlan.Match.any().data();
    return FaultPlan.builder(seed)
        .drop(data, 0.1)
        .duplicate(data, 0.1)
        .delay(FaultPlan.Match.any(), 0.1, Duration.ofMillis(3))
        .reorder(FaultPlan.Match.any(), 0.1)
        .drop(FaultPlan.Match.any().kinds(PacketKind.ACK, PacketKind.NAK), 0.05)
        .build();
  }

  /** The decisions for a grid of packets: both directions, three kinds, 2 QP pairs, 500 PSNs, 3 attempts. */
  private static List<FaultDecision> grid(FaultPlan plan) {
    List<FaultDecision> out = new ArrayList<>();
    for (Direction d : List.of(AB, BA)) {
      for (PacketKind kind : PacketKind.values()) {
        for (int qp = 2; qp < 4; qp++) {
          for (int psn = 0x100; psn < 0x100 + 500; psn++) {
            for (int attempt = 0; attempt < 3; attempt++) {
              out.add(plan.decide(d, new PacketId(qp, qp + 10, psn, kind), attempt));
            }
          }
        }
      }
    }
    return out;
  }

  @Test
  @DisplayName("same seed, same decisions: two plans built alike, and one plan asked twice, agree on every packet")
  void sameSeedSameDecisions() {
    List<FaultDecision> first = grid(mixed(42));
    assertEquals(first, grid(mixed(42)), "a second plan with the same seed");
    FaultPlan plan = mixed(42);
    grid(plan);
    assertEquals(first, grid(plan), "asking again (decide keeps no state)");
    assertTrue(first.stream().anyMatch(d -> d instanceof FaultDecision.Drop));
    assertTrue(first.stream().anyMatch(d -> d instanceof FaultDecision.Duplicate));
    assertTrue(first.stream().anyMatch(d -> d instanceof FaultDecision.Delay));
    assertTrue(first.stream().anyMatch(d -> d instanceof FaultDecision.Reorder));
  }

  @Test
  @DisplayName("different seeds make different decisions; so do different directions, QPs, PSNs and attempts")
  void differentInputsDifferentDecisions() {
    assertNotEquals(grid(mixed(42)), grid(mixed(43)));
    FaultPlan plan = FaultPlan.builder(7).drop(FaultPlan.Match.any(), 0.5).build();
    List<FaultDecision> ab = new ArrayList<>();
    List<FaultDecision> ba = new ArrayList<>();
    List<FaultDecision> otherQp = new ArrayList<>();
    List<FaultDecision> retry = new ArrayList<>();
    List<FaultDecision> ack = new ArrayList<>();
    for (int psn = 0; psn < 200; psn++) {
      ab.add(plan.decide(AB, 2, 3, psn, PacketKind.DATA, 0));
      ba.add(plan.decide(BA, 2, 3, psn, PacketKind.DATA, 0));
      otherQp.add(plan.decide(AB, 4, 3, psn, PacketKind.DATA, 0));
      retry.add(plan.decide(AB, 2, 3, psn, PacketKind.DATA, 1));
      ack.add(plan.decide(AB, 2, 3, psn, PacketKind.ACK, 0));
    }
    assertNotEquals(ab, ba);
    assertNotEquals(ab, otherQp);
    assertNotEquals(ab, retry, "a retransmission is decided afresh");
    assertNotEquals(ab, ack);
  }

  @Test
  @DisplayName("decisions do not depend on thread interleaving: four threads asking in shuffled orders agree")
  void independentOfInterleaving() throws Exception {
    FaultPlan plan = mixed(99);
    List<Integer> psns = new ArrayList<>();
    for (int psn = 0; psn < 5_000; psn++) {
      psns.add(psn);
    }
    List<FaultDecision> expected = new ArrayList<>();
    for (int psn : psns) {
      expected.add(plan.decide(AB, 2, 3, psn, PacketKind.DATA, psn % 3));
    }
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<FaultDecision[]>> results = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        List<Integer> order = new ArrayList<>(psns);
        Collections.shuffle(order, new java.util.Random(t));
        Callable<FaultDecision[]> task = () -> {
          FaultDecision[] out = new FaultDecision[order.size()];
          for (int psn : order) {
            out[psn] = plan.apply(AB, 2, 3, psn, PacketKind.DATA, psn % 3); // apply counts, decides the same
          }
          return out;
        };
        results.add(pool.submit(task));
      }
      for (Future<FaultDecision[]> r : results) {
        assertEquals(expected, List.of(r.get(20, TimeUnit.SECONDS)));
      }
    } finally {
      pool.shutdownNow();
    }
    FaultCounts c = plan.counts(AB);
    assertEquals(4 * 5_000, c.packets());
    long dropped = expected.stream().filter(d -> d instanceof FaultDecision.Drop).count();
    assertEquals(4 * dropped, c.dropped(), "counts add up over the threads");
  }

  @Test
  @DisplayName("a probability is a rate: about 10% of 100 000 packets are dropped (exact for the seed, deterministic)")
  void probabilityIsARate() {
    FaultPlan plan = FaultPlan.builder(5).drop(FaultPlan.Match.any(), 0.1).build();
    int dropped = 0;
    for (int psn = 0; psn < 100_000; psn++) {
      if (plan.decide(AB, 2, 3, psn & 0xFFFFFF, PacketKind.DATA, 0) instanceof FaultDecision.Drop) {
        dropped++;
      }
    }
    assertTrue(dropped > 9_500 && dropped < 10_500, "dropped " + dropped);
  }

  @Test
  @DisplayName("rules: first firing rule wins, pass() exempts, matching by direction, link, QP, kind, PSN, nth, attempt")
  void rulesAndMatching() {
    FaultPlan.Match any = FaultPlan.Match.any();
    FaultPlan plan = FaultPlan.builder(1)
        .pass(any.psn(7))
        .dropAll(any.direction(AB).fromQp(2).data().psns(0, 9))
        .dropFirst(any.direction(AB).fromQp(5), 2)
        .duplicate(any.link(AB).kinds(PacketKind.ACK), 1.0)
        .delay(any.toQp(9).everyNthPsn(4, 3), 1.0, Duration.ofMillis(2))
        .build();
    assertSame(FaultDecision.PASS, plan.decide(AB, 2, 3, 7, PacketKind.DATA, 0), "pass() comes first");
    assertSame(FaultDecision.DROP, plan.decide(AB, 2, 3, 0, PacketKind.DATA, 0));
    assertSame(FaultDecision.DROP, plan.decide(AB, 2, 3, 9, PacketKind.DATA, 5), "every attempt");
    assertSame(FaultDecision.PASS, plan.decide(AB, 2, 3, 10, PacketKind.DATA, 0), "outside the PSN range");
    assertSame(FaultDecision.PASS, plan.decide(BA, 2, 3, 0, PacketKind.DATA, 0), "the other direction");
    assertSame(FaultDecision.PASS, plan.decide(AB, 3, 2, 0, PacketKind.DATA, 0), "another QP");
    assertSame(FaultDecision.DROP, plan.decide(AB, 5, 3, 100, PacketKind.DATA, 0));
    assertSame(FaultDecision.DROP, plan.decide(AB, 5, 3, 100, PacketKind.DATA, 1));
    assertSame(FaultDecision.PASS, plan.decide(AB, 5, 3, 100, PacketKind.DATA, 2), "dropFirst(2): the third goes");
    assertSame(FaultDecision.DUPLICATE, plan.decide(AB, 3, 2, 100, PacketKind.ACK, 0));
    assertSame(FaultDecision.DUPLICATE, plan.decide(BA, 3, 2, 100, PacketKind.ACK, 0), "link(): both ways");
    assertSame(FaultDecision.PASS, plan.decide(BA, 3, 2, 100, PacketKind.NAK, 0));
    assertEquals(new FaultDecision.Delay(2_000_000), plan.decide(BA, 1, 9, 11, PacketKind.DATA, 0));
    assertSame(FaultDecision.PASS, plan.decide(BA, 1, 9, 12, PacketKind.DATA, 0), "12 % 4 != 3");
    assertSame(FaultDecision.PASS, FaultPlan.none(3).decide(AB, 2, 3, 0, PacketKind.DATA, 0));
  }

  @Test
  @DisplayName("counts: per direction and in total, one per apply, by the fault applied")
  void counts() {
    FaultPlan plan = FaultPlan.builder(1)
        .dropAll(FaultPlan.Match.any().psn(1))
        .duplicate(FaultPlan.Match.any().psn(2), 1.0)
        .delay(FaultPlan.Match.any().psn(3), 1.0, Duration.ofMillis(1))
        .reorder(FaultPlan.Match.any().psn(4), 1.0)
        .build();
    for (int psn = 0; psn < 6; psn++) {
      plan.apply(AB, 2, 3, psn, PacketKind.DATA, 0);
    }
    plan.apply(BA, 3, 2, 1, PacketKind.ACK, 0);
    assertEquals(new FaultCounts(6, 1, 1, 1, 1), plan.counts(AB));
    assertEquals(2, plan.counts(AB).passed());
    assertEquals(new FaultCounts(1, 1, 0, 0, 0), plan.counts(BA));
    assertEquals(new FaultCounts(7, 2, 1, 1, 1), plan.totals());
    assertEquals(2, plan.countsByDirection().size());
    assertEquals(FaultCounts.ZERO, plan.counts(new Direction(Gid.linkLocal(1), Gid.linkLocal(2))));
    // decide() never counts
    plan.decide(AB, 2, 3, 1, PacketKind.DATA, 0);
    assertEquals(6, plan.counts(AB).packets());
  }
}
