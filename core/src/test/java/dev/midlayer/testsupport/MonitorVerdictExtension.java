package dev.midlayer.testsupport;

import dev.midlayer.monitor.Check;
import dev.midlayer.monitor.ContractMonitor;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The contract monitor's verdict on every core test (registered for all of them through JUnit's extension
 * auto-detection; {@code midlayer.monitor.attach = on} in the test configuration attaches a monitor to every
 * midlayer, and BlockHound reports to it). After each test, every midlayer the test started must have seen no
 * violation but those its {@link ExpectViolations} names; after the class, the same for midlayers the class
 * shares among its tests. Leftovers of objects no client made are allowed: these tests make objects directly and
 * leave some to the unregistration on purpose (the leftover tests assert them).
 */
public final class MonitorVerdictExtension implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback,
    AfterEachCallback {
  private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(MonitorVerdictExtension.class);

  @Override
  public void beforeAll(ExtensionContext context) {
    context.getStore(NS).put("class", ContractMonitor.attachCount());
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    context.getStore(NS).put("test", ContractMonitor.attachCount());
  }

  @Override
  public void afterEach(ExtensionContext context) {
    long mark = context.getStore(NS).get("test", Long.class);
    List<ContractMonitor> mine = ContractMonitor.attachedAfter(mark);
    judged(context).addAll(mine);
    judge(mine, expected(context), context.getDisplayName());
  }

  @Override
  public void afterAll(ExtensionContext context) {
    long mark = context.getStore(NS).get("class", Long.class);
    List<ContractMonitor> shared = new ArrayList<>(ContractMonitor.attachedAfter(mark));
    shared.removeIf(judged(context)::contains); // the per-test midlayers were judged after their tests
    judge(shared, expected(context), context.getDisplayName());
  }

  /** The monitors already judged after a test of this class (the class's store, shared by its tests). */
  @SuppressWarnings("unchecked")
  private static Set<ContractMonitor> judged(ExtensionContext context) {
    ExtensionContext classContext = context.getTestMethod().isPresent() ? context.getParent().orElseThrow() : context;
    return classContext.getStore(NS).getOrComputeIfAbsent("judged",
        k -> java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>()), Set.class);
  }

  private static Set<Check> expected(ExtensionContext context) {
    Set<Check> out = EnumSet.noneOf(Check.class);
    context.getTestClass().ifPresent(c -> {
      ExpectViolations e = c.getAnnotation(ExpectViolations.class);
      if (e != null) {
        out.addAll(List.of(e.value()));
      }
      for (var m : c.getDeclaredMethods()) {
        ExpectViolations em = m.getAnnotation(ExpectViolations.class);
        if (em != null && context.getTestMethod().isEmpty()) {
          out.addAll(List.of(em.value())); // a class-wide midlayer sees every test's provocations
        }
      }
    });
    context.getTestMethod().ifPresent(m -> {
      ExpectViolations e = m.getAnnotation(ExpectViolations.class);
      if (e != null) {
        out.addAll(List.of(e.value()));
      }
    });
    return out;
  }

  private static void judge(List<ContractMonitor> monitors, Set<Check> allowed, String where) {
    for (ContractMonitor m : monitors) {
      m.assertNone(where + " (" + m + ")", allowed, true);
    }
  }
}
