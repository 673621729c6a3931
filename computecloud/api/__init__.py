"""Cross-cutting pieces of the HTTP APIs: microversions, strict request serializers, paging."""
