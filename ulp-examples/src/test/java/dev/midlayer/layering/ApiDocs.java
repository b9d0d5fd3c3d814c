package dev.midlayer.layering;

import com.sun.source.tree.AnnotationTree;
import com.sun.source.tree.ClassTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.MethodTree;
import com.sun.source.tree.Tree;
import com.sun.source.util.DocTrees;
import com.sun.source.util.JavacTask;
import com.sun.source.util.TreePath;
import com.sun.source.util.TreePathScanner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.lang.model.element.Modifier;
import javax.tools.JavaCompiler;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;

/**
 * The project's rule for the Javadoc of its public API: every public method and constructor of a public type
 * (outside the {@code internal} packages) has a comment, and that comment, or the comment of a type enclosing
 * it, says whether the method may sleep and from which threads it may be called. Methods marked
 * {@code @Override} inherit the comment of what they override, as javadoc does. The sources are parsed with
 * the JDK's compiler API, not compiled; the wording is checked by {@link #SLEEP} and {@link #THREADS}, so a
 * statement has to be made, in the words the project uses ("may sleep", "never blocks", "any thread", ...).
 */
final class ApiDocs {
  /** What says whether a method may sleep. */
  static final Pattern SLEEP = Pattern.compile(
      "may sleep|never sleeps?|does not sleep|not sleep|never blocks?|does not block|non-blocking|may block"
          + "|blocks (?:until|for|the|while)|without blocking|never parks?|sleeps",
      Pattern.CASE_INSENSITIVE);
  /** What says from which threads a method may be called. */
  static final Pattern THREADS = Pattern.compile("thread|from its turn|actor's turn|in a turn",
      Pattern.CASE_INSENSITIVE);

  /** One public method or constructor that breaks the rule, and how. */
  record Finding(String where, String problem) {
    @Override
    public String toString() {
      return where + ": " + problem;
    }
  }

  private ApiDocs() {}

  /** Every breach of the rule in the Java sources under {@code roots}. */
  static List<Finding> check(List<Path> roots) throws IOException {
    List<Path> files = new ArrayList<>();
    for (Path root : roots) {
      try (Stream<Path> s = Files.walk(root)) {
        s.filter(p -> p.toString().endsWith(".java") && !p.endsWith("package-info.java")).forEach(files::add);
      }
    }
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    List<Finding> findings = new ArrayList<>();
    try (StandardJavaFileManager fm = javac.getStandardFileManager(null, null, null)) {
      JavacTask task = (JavacTask) javac.getTask(null, fm, null, List.of("-proc:none"), null,
          fm.getJavaFileObjectsFromPaths(files));
      DocTrees docs = DocTrees.instance(task);
      for (CompilationUnitTree unit : task.parse()) {
        String pkg = unit.getPackageName() == null ? "" : unit.getPackageName().toString();
        if (!pkg.contains(".internal")) {
          new Scanner(unit, docs, findings).scan(unit, "");
        }
      }
    }
    return findings;
  }

  private static final class Scanner extends TreePathScanner<Void, String> {
    private final CompilationUnitTree unit;
    private final DocTrees docs;
    private final List<Finding> findings;

    Scanner(CompilationUnitTree unit, DocTrees docs, List<Finding> findings) {
      this.unit = unit;
      this.docs = docs;
      this.findings = findings;
    }

    /** {@code enclosingDocs}: the comments of the enclosing types, which may state the rule for all members. */
    @Override
    public Void visitClass(ClassTree type, String enclosingDocs) {
      TreePath here = getCurrentPath();
      Tree parent = here.getParentPath().getLeaf();
      boolean inInterface = parent instanceof ClassTree p && isInterface(p);
      if (!type.getModifiers().getFlags().contains(Modifier.PUBLIC) && !inInterface) {
        return null; // not API, and nor is anything inside it
      }
      String typeDocs = enclosingDocs + " " + orEmpty(docs.getDocComment(here));
      for (Tree member : type.getMembers()) {
        TreePath path = new TreePath(here, member);
        if (member instanceof ClassTree) {
          scan(path, typeDocs);
        } else if (member instanceof MethodTree m && isApi(type, m) && !overrides(m)) {
          checkMethod(type, m, path, typeDocs);
        }
      }
      return null;
    }

    private void checkMethod(ClassTree type, MethodTree m, TreePath path, String typeDocs) {
      String name = m.getName().contentEquals("<init>") ? type.getSimpleName() + "(...)"
          : type.getSimpleName() + "." + m.getName();
      long line = unit.getLineMap().getLineNumber(docs.getSourcePositions().getStartPosition(unit, m));
      String where = Path.of(unit.getSourceFile().toUri()).getFileName() + ":" + line + " " + name;
      String own = docs.getDocComment(path);
      if (own == null || own.isBlank()) {
        findings.add(new Finding(where, "no Javadoc"));
        return;
      }
      String said = (own + " " + typeDocs).replaceAll("\\s+", " "); // a phrase may wrap across lines
      if (!SLEEP.matcher(said).find()) {
        findings.add(new Finding(where, "does not say whether it may sleep"));
      }
      if (!THREADS.matcher(said).find()) {
        findings.add(new Finding(where, "does not say from which threads it may be called"));
      }
    }

    private static boolean isApi(ClassTree type, MethodTree m) {
      Set<Modifier> flags = m.getModifiers().getFlags();
      if (flags.contains(Modifier.PRIVATE)) {
        return false;
      }
      return flags.contains(Modifier.PUBLIC) || isInterface(type);
    }

    private static boolean isInterface(ClassTree t) {
      return t.getKind() == Tree.Kind.INTERFACE || t.getKind() == Tree.Kind.ANNOTATION_TYPE;
    }

    private static boolean overrides(MethodTree m) {
      for (AnnotationTree a : m.getModifiers().getAnnotations()) {
        String n = a.getAnnotationType().toString();
        if (n.equals("Override") || n.equals("java.lang.Override")) {
          return true;
        }
      }
      return false;
    }

    private static String orEmpty(String s) {
      return s == null ? "" : s;
    }
  }
}
