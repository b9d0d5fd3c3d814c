/** Internal API: the verbs implementation. Not an API; may change without notice. */
package dev.midlayer.internal.verbs;
