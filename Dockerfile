# syntax=docker/dockerfile:1
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/oshid ./cmd/oshid

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/oshid /oshid
ENV OSHI_ADDR=0.0.0.0:7777 OSHI_DATA_DIR=/data
VOLUME /data
EXPOSE 7777
USER nonroot
ENTRYPOINT ["/oshid"]
