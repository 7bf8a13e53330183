using System.Text.Json.Nodes;

namespace MlNetBert.Serving;

/// <summary>
/// The OpenAPI 3.1 description served at <c>GET /openapi.json</c>. Hand-written, because the endpoints read and write
/// JSON by hand to control every error; a test checks that its paths and methods are exactly the mapped routes, and
/// the limits are filled in from the server's options.
/// </summary>
internal static class OpenApiDocument
{
    public static string Render(ServedModel served, ServerOptions options)
    {
        var document = JsonNode.Parse(Template)!;
        document["info"]!["title"] = $"MlNetBert model server: {served.Name}";
        document["info"]!["version"] = served.Version;
        var schemas = document["components"]!["schemas"]!;
        schemas["PredictRequest"]!["properties"]!["inputs"]!["maxItems"] = options.MaxInputs;
        if (options.LongText == LongTextPolicy.Reject)
        {
            schemas["PredictRequest"]!["properties"]!["inputs"]!["items"]!["oneOf"]![0]!["maxLength"] = options.MaxTextChars;
            schemas["TextInput"]!["properties"]!["text"]!["maxLength"] = options.MaxTextChars;
            schemas["TextInput"]!["properties"]!["text2"]!["maxLength"] = options.MaxTextChars;
        }
        return document.ToJsonString();
    }

    private const string ErrorResponse = """{ "description": "%", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }""";

    private static readonly string Template = ExpandErrors("""
    {
      "openapi": "3.1.0",
      "info": { "title": "", "version": "", "description": "Predictions from one exported MlNetBert model (text classification, pair classification or sentence similarity). Errors are always {\"error\": {\"code\", \"message\"}}." },
      "paths": {
        "/v1/predict": {
          "post": {
            "summary": "Predict a batch of inputs; outputs come back one per input, in order.",
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PredictRequest" } } } },
            "responses": {
              "200": { "description": "One output per input.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PredictResponse" } } } },
              "400": ERR(malformed_json, invalid_type, missing_inputs, empty_inputs, missing_text, pair_required, unexpected_text2, bad_request),
              "413": ERR(body_too_large),
              "415": ERR(unsupported_media_type),
              "422": ERR(too_many_inputs, text_too_long),
              "500": ERR(internal_error: a server fault; logged),
              "503": ERR(shutting_down)
            }
          }
        },
        "/v1/model": {
          "get": {
            "summary": "The model card: task, labels, max length, checkpoint, training metrics, limits.",
            "responses": { "200": { "description": "The model card.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ModelCard" } } } } }
          }
        },
        "/healthz": {
          "get": {
            "summary": "Liveness: the process is up.",
            "responses": { "200": { "description": "Up.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Status" } } } } }
          }
        },
        "/readyz": {
          "get": {
            "summary": "Readiness: the model is loaded and a warm-up prediction has run.",
            "responses": {
              "200": { "description": "Ready (status \"ready\").", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Status" } } } },
              "503": { "description": "Not ready: status \"warming_up\", \"stopping\" or \"failed\".", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Status" } } } }
            }
          }
        },
        "/metrics": {
          "get": {
            "summary": "Prometheus metrics: mlnetbert_http_requests_total, mlnetbert_errors_total, mlnetbert_request_duration_seconds, mlnetbert_batch_size, mlnetbert_inputs_total, mlnetbert_queue_depth.",
            "responses": { "200": { "description": "Prometheus text format 0.0.4.", "content": { "text/plain": { "schema": { "type": "string" } } } } }
          }
        },
        "/openapi.json": {
          "get": {
            "summary": "This document.",
            "responses": { "200": { "description": "OpenAPI 3.1.", "content": { "application/json": { "schema": { "type": "object" } } } } }
          }
        }
      },
      "components": {
        "schemas": {
          "PredictRequest": {
            "type": "object",
            "required": ["inputs"],
            "properties": {
              "inputs": {
                "type": "array", "minItems": 1,
                "description": "Plain strings for one-text models; objects with text and text2 for pair models (objects with only text also work for one-text models).",
                "items": { "oneOf": [ { "type": "string" }, { "$ref": "#/components/schemas/TextInput" } ] }
              }
            }
          },
          "TextInput": {
            "type": "object",
            "required": ["text"],
            "properties": { "text": { "type": "string" }, "text2": { "type": "string", "description": "Required by pair models, refused by one-text models." } }
          },
          "PredictResponse": {
            "type": "object",
            "required": ["model", "outputs"],
            "properties": {
              "model": { "$ref": "#/components/schemas/ModelIdentity" },
              "outputs": { "type": "array", "items": { "oneOf": [ { "$ref": "#/components/schemas/ClassificationOutput" }, { "$ref": "#/components/schemas/SimilarityOutput" } ] } }
            }
          },
          "ModelIdentity": {
            "type": "object",
            "required": ["name", "version", "task"],
            "properties": {
              "name": { "type": "string" },
              "version": { "type": "string", "description": "First 12 hex digits of the model file's SHA-256." },
              "task": { "type": "string", "enum": ["text-classification", "pair-classification", "sentence-similarity"] }
            }
          },
          "ClassificationOutput": {
            "type": "object",
            "required": ["label", "probabilities"],
            "properties": {
              "label": { "type": "string", "description": "The most probable label." },
              "probabilities": { "type": "object", "additionalProperties": { "type": "number" }, "description": "Every label's probability, in the model's label order." },
              "truncated": { "type": "boolean", "description": "Present (true) when a text was cut to the server's character limit." }
            }
          },
          "SimilarityOutput": {
            "type": "object",
            "required": ["score"],
            "properties": { "score": { "type": "number" }, "truncated": { "type": "boolean" } }
          },
          "ModelCard": {
            "type": "object",
            "required": ["name", "version", "task", "pair", "labels", "max_length", "checkpoint", "metrics", "project_version"],
            "properties": {
              "name": { "type": "string" }, "version": { "type": "string" }, "task": { "type": "string" }, "pair": { "type": "boolean" },
              "labels": { "type": "array", "items": { "type": "string" } },
              "max_length": { "type": "integer", "description": "Inputs are truncated to this many tokens." },
              "checkpoint": { "type": "string" }, "pooling": { "type": "string" },
              "metrics": { "type": "object", "additionalProperties": { "type": ["number", "string"] }, "description": "Training metrics from the file's mlnetbert.metric.* metadata." },
              "project_version": { "type": "string" }, "format_version": { "type": "string" }, "execution_provider": { "type": "string" },
              "limits": { "type": "object" }, "batching": { "type": "object" }
            }
          },
          "Status": { "type": "object", "required": ["status"], "properties": { "status": { "type": "string" } } },
          "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
              "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": { "code": { "type": "string" }, "message": { "type": "string" } }
              }
            }
          }
        }
      }
    }
    """);

    // ERR(codes) in the template stands for an error response that lists its codes, which keeps the table readable.
    private static string ExpandErrors(string text)
    {
        int at;
        while ((at = text.IndexOf("ERR(", StringComparison.Ordinal)) >= 0)
        {
            int close = text.IndexOf(')', at);
            string codes = text[(at + 4)..close];
            text = string.Concat(text.AsSpan(0, at), ErrorResponse.Replace("%", "Error codes: " + codes, StringComparison.Ordinal), text.AsSpan(close + 1));
        }
        return text;
    }
}
