//! Model family modules (filled by the model-zoo work).
